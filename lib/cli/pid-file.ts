import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { CliError, ExitCode } from "./exit-codes.ts";

/** True when a process with this pid exists (even one we may not signal). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Writes `pid` to `path` (mode 644), as Dramatiq does: a file left by a dead process is
 * overwritten; one naming a live process, holding garbage, or not writable is an error.
 * @throws CliError with exit code 4.
 */
export function writePidFile(path: string, pid: number = process.pid): void {
  let existing: string | undefined;
  try {
    existing = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new CliError(`Cannot read pid file ${path}: ${(error as Error).message}`, ExitCode.PID_FILE_ERROR, { cause: error });
    }
  }
  if (existing !== undefined) {
    const text = existing.trim();
    const other = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(other) || other <= 0) {
      throw new CliError(`Pid file ${path} holds ${JSON.stringify(text.slice(0, 40))}, not a pid; remove it if it is stale`, ExitCode.PID_FILE_ERROR);
    }
    if (other !== pid && isAlive(other)) {
      throw new CliError(`Pid file ${path} belongs to running process ${other}: is dramats already running?`, ExitCode.PID_FILE_ERROR);
    }
  }
  try {
    writeFileSync(path, `${pid}\n`, { mode: 0o644 });
  } catch (error) {
    throw new CliError(`Cannot write pid file ${path}: ${(error as Error).message}`, ExitCode.PID_FILE_ERROR, { cause: error });
  }
}

/** Removes the pid file if it still names `pid` (another instance may have taken it over). */
export function removePidFile(path: string, pid: number = process.pid): void {
  try {
    if (readFileSync(path, "utf8").trim() === String(pid)) unlinkSync(path);
  } catch {
    // Already gone or unreadable: nothing of ours to remove.
  }
}
