// Where `npm run interop:python` finds Python Dramatiq and the brokers, checked before any case runs.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Debian's interpreter, with python3-redis, python3-pika and python3-prometheus-client. */
export const PYTHON = "/usr/bin/python3";
/** The Python side's own scripts (ours). */
export const PYTHON_DIR = join(ROOT, "interop", "python");
export const DRAMATIQ_VERSION = "2.2.0";

// The servers CI and the specs use unless told otherwise; set here so spec/helpers find them too.
export const REDIS_URL = (process.env.REDIS_URL ||= "redis://127.0.0.1:6379");
export const AMQP_URL = (process.env.AMQP_URL ||= "amqp://guest:guest@127.0.0.1:5672");

const HOW =
  "Get it with: git clone https://github.com/Bogdanp/dramatiq && mkdir -p /path/to/dramatiq-2.2.0 && " +
  "git -C dramatiq archive v2.2.0 | tar -x -C /path/to/dramatiq-2.2.0, then run DRAMATIQ_SRC=/path/to/dramatiq-2.2.0 npm run interop:python";

/**
 * The checked `DRAMATIQ_SRC`: a directory holding Dramatiq 2.2.0's source (`dramatiq/__init__.py`).
 * @throws Error saying what is wrong and how to get the source.
 */
export function dramatiqSrc(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DRAMATIQ_SRC;
  if (!dir) throw new Error(`DRAMATIQ_SRC is not set: it must name a directory holding Python Dramatiq ${DRAMATIQ_VERSION}'s source. ${HOW}`);
  const init = join(dir, "dramatiq", "__init__.py");
  if (!existsSync(init)) throw new Error(`DRAMATIQ_SRC=${dir} does not hold Dramatiq's source (no ${init}). ${HOW}`);
  const version = /__version__ = "([^"]+)"/.exec(readFileSync(init, "utf8"))?.[1];
  if (version !== DRAMATIQ_VERSION) {
    throw new Error(`DRAMATIQ_SRC=${dir} holds Dramatiq ${version ?? "(no __version__)"}, not ${DRAMATIQ_VERSION}. ${HOW}`);
  }
  return dir;
}

/** The environment of every Python process: PYTHONPATH=$DRAMATIQ_SRC plus our scripts, unbuffered. */
export function pythonEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: `${dramatiqSrc()}:${PYTHON_DIR}`, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1", ...extra };
}

/**
 * Checks that the interpreter imports Dramatiq from DRAMATIQ_SRC along with redis and pika.
 * @throws Error naming what is missing.
 */
export function checkPython(): string {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: the check uses Debian's python3 (apt-get install python3 python3-redis python3-pika python3-prometheus-client)`);
  const src = dramatiqSrc();
  let out: string;
  try {
    out = execFileSync(PYTHON, ["-c", "import dramatiq, redis, pika; print(dramatiq.__version__, dramatiq.__file__)"], {
      env: pythonEnv({}),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim().split("\n").pop();
    throw new Error(`${PYTHON} cannot import dramatiq, redis and pika with PYTHONPATH=${src} (${stderr}): install python3-redis python3-pika python3-prometheus-client`);
  }
  const [version, file] = out.split(" ");
  if (version !== DRAMATIQ_VERSION || !file?.startsWith(src.replace(/\/$/, ""))) {
    throw new Error(`${PYTHON} imported Dramatiq ${version} from ${file}, not ${DRAMATIQ_VERSION} from DRAMATIQ_SRC=${src}`);
  }
  return out;
}
