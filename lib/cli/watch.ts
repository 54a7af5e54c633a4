import { watch, type FSWatcher } from "node:fs";
import { resolve, sep } from "node:path";

/** Source files whose change means new code; others (logs, pid files, data) are ignored. */
const SOURCE = /\.(?:[cm]?[jt]sx?|json)$/;
const IGNORED_DIRS = ["node_modules", ".git", "dist"];
/** Editors write files in bursts; one reload per burst. */
const DEBOUNCE_MS = 200;

/**
 * Calls `onChange` (debounced) when a source file under `dir` changes.
 * @returns a function that stops watching.
 */
export function watchSources(dir: string, onChange: (file: string) => void): () => void {
  const root = resolve(dir);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(root, { recursive: true }, (_event, file) => {
    if (!file) return;
    const path = String(file);
    if (!SOURCE.test(path) || path.split(sep).some((part) => IGNORED_DIRS.includes(part))) return;
    clearTimeout(timer);
    timer = setTimeout(() => onChange(path), DEBOUNCE_MS);
  });
  watcher.on("error", () => {}); // A vanished subfolder must not crash the supervisor.
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
