// The commands the READMEs tell a user to type, and how the specs run them: each line of each
// shell block, through `sh -c`, exactly as written, from the directory the README says. The only
// changes a spec may make to a line are the ones below (spec/readme-commands.spec.ts lists where
// each line runs):
// - `redis://127.0.0.1:6379` gets the spec's private `?namespace=` (specs never use the shared
//   default namespace), by privateRedis();
// - a PostgreSQL URL's `?schema=NAME` becomes the spec's private schema, by privateSchema();
// - a leading `npm ci && ` is what CI's own `npm ci` (.ci/run) has done: the spec runs the rest
//   with the installed node_modules linked in, by afterNpmCi();
// - placeholders are shell variables in the READMEs (`"$MESSAGE_ID"`, `$JOB_ID`, `"$REPOSITORY"`,
//   `${PORT:-8000}`), which the spec sets in the line's environment;
// - an `export NAME=value` line of a block is run in the same shell before the block's later lines.
// The environment is the spec's: none of its own broker settings, and where a spec says so a
// free metrics or dashboard port (DRAMATS_METRICS_PORT=0, DRAMATS_DASHBOARD_PORT=0: other runs on the machine may hold 9191 and 9192), npm's
// cache first (npm_config_prefer_offline) or a smoke-sized bench (BENCH_SMOKE=1).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Fences whose lines are commands: shell-tagged, or untagged. */
const SHELL = /^(sh|bash|shell|console|)$/;

export interface ReadmeCommand {
  readonly file: string;
  readonly line: number;
  /** The line as written, trailing blanks cut. */
  readonly text: string;
}

/** Every command line in the shell blocks of every tracked Markdown file (comment-only lines left out). */
export function readmeCommands(): ReadmeCommand[] {
  const files = execFileSync("git", ["ls-files", "*.md"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
  return files.flatMap((file) => commandsIn(file));
}

export function commandsIn(file: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  let fence: string | undefined;
  readFileSync(join(ROOT, file), "utf8").split("\n").forEach((raw, index) => {
    const opening = /^\s*```\s*([\w-]*)/.exec(raw);
    if (opening) {
      fence = fence === undefined ? opening[1]! : undefined;
      return;
    }
    const text = raw.trimEnd();
    if (fence !== undefined && SHELL.test(fence) && text.trim() !== "" && !text.trim().startsWith("#")) {
      commands.push({ file, line: index + 1, text });
    }
  });
  return commands;
}

/**
 * The one command line of `file` that contains `snippet`. spec/readme-commands.spec.ts reads
 * these calls to see that the spec a line is listed for really runs it.
 */
export function readmeLine(file: string, snippet: string): string {
  const found = linesFor(commandsIn(file), snippet);
  if (found.length !== 1) throw new Error(`${file}: ${found.length} command lines contain ${JSON.stringify(snippet)}, expected one`);
  return found[0]!.text;
}

/** The lines a readmeLine() snippet picks: the line equal to it, else those containing it. */
export function linesFor(commands: ReadmeCommand[], snippet: string): ReadmeCommand[] {
  const equal = commands.filter((c) => c.text === snippet);
  return equal.length > 0 ? equal : commands.filter((c) => c.text.includes(snippet));
}

/** The README's loopback Redis URL with the spec's namespace (the one allowed change to a URL). */
export function privateRedis(line: string, namespace: string): string {
  if (!line.includes("redis://127.0.0.1:6379")) throw new Error(`no redis://127.0.0.1:6379 in ${line}`);
  return line.replace(/redis:\/\/127\.0\.0\.1:6379(?=[\s'"]|$)/g, `redis://127.0.0.1:6379?namespace=${namespace}`);
}

/** The README's `?schema=NAME` in a PostgreSQL URL, made the spec's own schema. */
export function privateSchema(line: string, schema: string): string {
  if (!/postgres(ql)?:\/\/[^\s'"]*\?schema=\w+/.test(line)) throw new Error(`no postgres://...?schema= in ${line}`);
  return line.replace(/(postgres(?:ql)?:\/\/[^\s'"]*\?schema=)\w+/g, `$1${schema}`);
}

/** The part of `npm ci && REST` after the install, which CI has run already. */
export function afterNpmCi(line: string): string {
  const match = /^npm ci && (.+)$/.exec(line);
  if (!match) throw new Error(`${line} does not start with npm ci &&`);
  return match[1]!;
}

/**
 * The environment of a spec run, without its own broker settings or npm's (a user's shell has
 * neither). One npm setting stays: `nodedir`, where node-gyp finds the headers of a Node that came
 * without them (CI's other Node versions, .ci/node-versions.sh); without it an install that builds
 * better-sqlite3 would compile against another Node's headers or try to download them.
 */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(DRAMATS_|REDIS_URL$|AMQP_URL$|npm_(?!config_nodedir$)|BROKER_URL$|RESULTS_URL$)/.test(name)),
  );
  return { ...env, ...extra };
}

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `sh -c line` to completion. */
export function sh(line: string, cwd: string, env: NodeJS.ProcessEnv, timeout = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", line], { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    // The whole group: npx and npm leave their children running when only they are killed.
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), timeout);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: stderr + (code === null ? `\n(killed after ${timeout} ms)` : "") });
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

export interface Running {
  readonly lines: string[];
  stderr(): string;
  /** Resolves with the first stdout line `test` accepts; rejects when the command exits first or after `ms`. */
  waitFor(test: (line: string) => boolean, ms?: number): Promise<string>;
  /** Signals the whole process group, as a terminal's Ctrl-C does; resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `sh -c line` left running (a worker, a server), in a process group of its own. */
export function shStart(line: string, cwd: string, env: NodeJS.ProcessEnv): Running {
  const child = spawn("sh", ["-c", line], { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  createInterface({ input: child.stdout! }).on("line", (text) => {
    lines.push(text);
    for (const wake of waiters) wake();
  });
  let exited = false;
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  void closed.then(() => {
    exited = true;
    for (const wake of waiters) wake();
  });
  return {
    lines,
    stderr: () => stderr,
    waitFor(test, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no such line within ${ms} ms from ${line}; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`)), ms);
        const done = (error?: Error, found?: string) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(found!);
        };
        const check = () => {
          const found = lines.find(test);
          if (found !== undefined) done(undefined, found);
          else if (exited) done(new Error(`${line} exited; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`));
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (!exited) killGroup(child, signal);
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), 30_000);
      await closed;
      clearTimeout(timer);
    },
  };
}
