/** Short polling that pauses while the tab is hidden. */

/**
 * Runs `tick` now and then every `interval` ms after each one settles, skipping while
 * `document.hidden` (and running at once when the tab shows again). Returns the stop function.
 */
export function poll(tick: () => Promise<void>, interval: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let running = false;
  const run = async (): Promise<void> => {
    clearTimeout(timer);
    if (stopped || running || document.hidden) return;
    running = true;
    try {
      await tick();
    } finally {
      running = false;
      if (!stopped) timer = setTimeout(() => void run(), interval);
    }
  };
  const onVisibility = (): void => {
    if (!document.hidden) void run();
  };
  document.addEventListener("visibilitychange", onVisibility);
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  };
}
