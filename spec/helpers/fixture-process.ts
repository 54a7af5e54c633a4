// A spec fixture (spec/fixtures/NAME) run as a child process under tsx, logging silenced, its
// stdout collected line by line as it comes (the fixtures report to their spec that way).
import { spawn, type ChildProcess } from "node:child_process";

const FIXTURES = new URL("../fixtures/", import.meta.url);

/** A running fixture: the process, and its stdout lines so far (complete lines only). */
export interface FixtureProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
}

/** Starts `spec/fixtures/<name>` with `env` added; `stdin: true` leaves its stdin open to write to. */
export function spawnFixture(name: string, env: Record<string, string>, options: { stdin?: boolean } = {}): FixtureProcess {
  const child = spawn(process.execPath, ["--import", "tsx", new URL(name, FIXTURES).pathname], {
    env: { ...process.env, DRAMATS_LOG_LEVEL: "silent", ...env },
    stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    lines.push(...parts);
  });
  return { child, lines };
}
