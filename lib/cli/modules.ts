import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { tsxEntry } from "../threads/tsx.ts";
import { CliError, ExitCode } from "./exit-codes.ts";

/** A user module, found on disk or left for Node to resolve as a package name. */
export interface ResolvedModule {
  /** What the user typed. */
  readonly spec: string;
  /** What to `import()`: a file URL, or the bare package specifier. */
  readonly url: string;
  /** True when the module is TypeScript and so needs tsx. */
  readonly typescript: boolean;
}

const EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"];
const TS_FILE = /\.[cm]?tsx?$/;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function probe(base: string): string | undefined {
  if (isFile(base)) return base;
  for (const ext of EXTENSIONS) if (isFile(base + ext)) return base + ext;
  for (const ext of EXTENSIONS) if (isFile(`${base}/index${ext}`)) return `${base}/index${ext}`;
  return undefined;
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith(".") || isAbsolute(spec) || /\.[cm]?[jt]sx?$/.test(spec);
}

/**
 * Finds a module given on the command line: a file relative to `cwd` (extension and
 * `/index` optional, as in `app/actors`), else a package name resolved from `cwd`.
 * @throws CliError (exit code 2) for a path that does not exist.
 */
export function resolveModule(spec: string, cwd: string = process.cwd()): ResolvedModule {
  const file = probe(resolve(cwd, spec));
  if (file !== undefined) return { spec, url: pathToFileURL(file).href, typescript: TS_FILE.test(file) };
  if (looksLikePath(spec)) {
    throw new CliError(
      `Module not found: ${spec} (looked for ${resolve(cwd, spec)} with extensions ${EXTENSIONS.join(", ")} and as a folder with an index file)`,
      ExitCode.IMPORT_ERROR,
    );
  }
  try {
    const path = createRequire(resolve(cwd, "package.json")).resolve(spec);
    return { spec, url: pathToFileURL(path).href, typescript: TS_FILE.test(path) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND") {
      throw new CliError(
        `Module not found: ${spec} is neither a file under ${cwd} (extensions ${EXTENSIONS.join(", ")} and /index tried) nor an installed package`,
        ExitCode.IMPORT_ERROR,
      );
    }
    // A package whose exports only an ES module import can resolve: let import() decide.
    return { spec, url: spec, typescript: false };
  }
}

/**
 * Imports the modules in order. Errors become one readable paragraph: exit code 3 when the
 * module failed to reach its broker, else 2; the full stack only when `verbose`.
 * @throws CliError
 */
export async function importModules(modules: readonly ResolvedModule[], verbose = false): Promise<void> {
  for (const module of modules) {
    try {
      await import(module.url);
    } catch (error) {
      throw importFailure(module, error, verbose);
    }
  }
}

function importFailure(module: ResolvedModule, error: unknown, verbose: boolean): CliError {
  const e = error instanceof Error ? error : new Error(String(error));
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("DRAMATS_ERR_CONNECTION")) {
    return new CliError(`Module ${module.spec} could not reach its broker: ${e.name}: ${e.message}`, ExitCode.BROKER_CONNECTION_ERROR, { cause: e });
  }
  if (code === "ERR_MODULE_NOT_FOUND" && module.url === module.spec) {
    return new CliError(`Module not found: ${module.spec} is neither a file under ${process.cwd()} nor an installed package`, ExitCode.IMPORT_ERROR, { cause: e });
  }
  let text = `Could not import ${module.spec}: ${e.name}: ${e.message}`;
  const where = verbose ? e.stack : firstUserFrame(e.stack);
  if (where) text += verbose ? `\n${where}` : `\n    ${where}`;
  return new CliError(text, ExitCode.IMPORT_ERROR, { cause: e });
}

/** The first stack frame outside Node's internals and node_modules: where the user's code threw. */
function firstUserFrame(stack: string | undefined): string | undefined {
  for (const line of stack?.split("\n").slice(1) ?? []) {
    const frame = line.trim();
    if (frame.startsWith("at ") && !frame.includes("node:") && !frame.includes("/node_modules/")) return frame;
  }
  return undefined;
}

/**
 * V8 flags worker processes get unless the user set them (in `node` flags or NODE_OPTIONS).
 * V8 lets the young generation grow to 16 MB per semi-space; capped at 2 MB, an idle worker's
 * RSS is about 25 MB lower, with no measurable cost in throughput (npm run bench). One V8
 * background thread instead of four: the supervisor already runs a process per core, and each
 * background thread keeps a malloc arena of freed compiler and GC memory; RSS at rest about
 * 2-3 MB lower, drain throughput unchanged or slightly higher (npm run bench -- ab).
 */
export const WORKER_V8_DEFAULTS: readonly string[] = ["--max-semi-space-size=2", "--v8-pool-size=1"];

/**
 * How the old generation grows and shrinks in worker processes, unless the user says otherwise.
 * A worker's live heap is small (about 10 MB) but a drain promotes much short-lived garbage:
 * growing the old-generation limit by 30% per full GC rather than up to 4x keeps the peak RSS
 * while draining about 20 MB lower. V8's memory reducer gives memory back once a process goes
 * idle; starting it 0.5 s rather than 8 s after the last full GC returns it soon after a drain.
 * Neither costs measurable throughput (npm run bench).
 */
export const WORKER_GC_DEFAULTS: readonly string[] = ["--heap-growing-percent=30", "--gc-memory-reducer-start-delay-ms=500"];

/** `execArgv` plus each of `defaults` (WORKER_V8_DEFAULTS) that neither it nor `nodeOptions` sets. */
export function withWorkerV8Defaults(
  execArgv: readonly string[],
  nodeOptions: string = process.env.NODE_OPTIONS ?? "",
  defaults: readonly string[] = WORKER_V8_DEFAULTS,
): string[] {
  const args = [...execArgv];
  const given = [...args, ...nodeOptions.split(/\s+/)].map((arg) => arg.split("=")[0]!.replaceAll("_", "-"));
  for (const flag of defaults) {
    if (!given.includes(flag.split("=")[0]!)) args.push(flag);
  }
  return args;
}

/**
 * The `execArgv` worker processes need: the parent's, plus tsx's loader when a module is
 * TypeScript and tsx is not loaded yet (threads inherit it from their process).
 * @throws CliError (exit code 2) when TypeScript modules are given and tsx is not installed.
 */
export function workerExecArgv(modules: readonly ResolvedModule[], execArgv: readonly string[] = process.execArgv): string[] {
  const args = [...execArgv];
  if (!modules.some((m) => m.typescript)) return args;
  const loaded = [...args, process.env.NODE_OPTIONS ?? ""].some((arg) => arg.includes("tsx"));
  if (loaded) return args;
  const tsx = tsxEntry(".");
  if (tsx === undefined) {
    throw new CliError("TypeScript modules need tsx: run `npm install tsx`, or compile the modules to .js", ExitCode.IMPORT_ERROR);
  }
  return [...args, "--import", tsx];
}
