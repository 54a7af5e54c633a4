// Loaded by mocha before any spec (see .mocharc.json).
// Specs log nothing unless DRAMATS_LOG_LEVEL asks for it: failures speak through assertions.
process.env.DRAMATS_LOG_LEVEL ??= "silent";

/** Node 17.3+ has it; @types/node 20.9 does not declare it. */
type Process = NodeJS.Process & { getActiveResourcesInfo(): string[] };

/** How long node may take to wind down after the last spec before we say what keeps it up. */
const WIND_DOWN = 5_000;

/**
 * Mocha does not force the process to exit (no `exit` in .mocharc.json): a spec that leaves a
 * connection, timer, server or child process open makes the run hang, so that leaks surface.
 * When that happens, this names what is still open. It never changes the outcome of a run.
 */
export const mochaHooks = {
  afterAll(): void {
    setTimeout(() => {
      process.stderr.write(
        `\nThe specs are done but node is still running ${WIND_DOWN} ms later; still open: ` +
          `${JSON.stringify((process as Process).getActiveResourcesInfo())}. ` +
          "Find the spec file that leaves it open: timeout 120 npx mocha <file>, file by file.\n",
      );
    }, WIND_DOWN).unref();
  },
};
