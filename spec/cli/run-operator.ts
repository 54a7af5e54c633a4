// Runs one operator command (`dramats queues ...`) to completion for the specs.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../lib/cli/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface OperatorRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (throws, quoting the output, when it is not). */
  json<T = any>(): T;
}

/** `node --import tsx lib/cli/main.ts ...args`, from the repository root; resolves when it exits. */
export function runOperator(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 20_000): Promise<OperatorRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", MAIN, ...args],
      { cwd: ROOT, env: { ...process.env, DRAMATS_LOG_LEVEL: "silent", DRAMATS_BROKER: "", ...env }, timeout },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({
          code,
          stdout,
          stderr,
          json() {
            try {
              return JSON.parse(stdout);
            } catch {
              throw new Error(`dramats ${args.join(" ")} printed no JSON (exit ${code}):\n${stdout}\nstderr: ${stderr}`);
            }
          },
        });
      },
    );
  });
}
