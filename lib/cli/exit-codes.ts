/**
 * Exit codes of the `dramats` command, as in Dramatiq, so process managers and scripts can
 * tell a bad deploy (2) from an unreachable broker (3) or a second instance (4).
 */
export const ExitCode = {
  /** Stopped cleanly. */
  OK: 0,
  /** Killed, forced to stop by a second signal, or an unexpected error. */
  ERROR: 1,
  /**
   * A module failed to import, the command line was invalid, or the configuration does not fit
   * the broker (its queues exist with other arguments: `QueueArgumentsMismatch`).
   */
  IMPORT_ERROR: 2,
  /** The broker could not be reached at boot. */
  BROKER_CONNECTION_ERROR: 3,
  /** The pid file belongs to a live process, holds garbage, or cannot be written. */
  PID_FILE_ERROR: 4,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the command with a given exit code and a one-paragraph message for humans. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CliError";
  }
}
