import { resolve } from "node:path";
import type { BrokerOptions } from "../../lib/broker.ts";
import { InvalidOptions } from "../../lib/errors.ts";
import { urlDuration } from "../../lib/url-duration.ts";

/** Options of {@link SqliteBroker}. Times are in milliseconds. */
export interface SqliteBrokerOptions extends BrokerOptions {
  /**
   * The database file, shared by the app and every worker process on this machine. It is
   * created when missing (its folder must exist), with `-wal` and `-shm` files beside it.
   * `:memory:` is refused: workers in other processes could never see it (use `memory://`,
   * the StubBroker, for one process).
   * @defaultValue `./dramats.sqlite`, unless `url` is given
   */
  path?: string;
  /**
   * `sqlite://PATH`, e.g. `sqlite://./dramats.sqlite` or `sqlite:///var/lib/app/jobs.sqlite`. Used
   * when `path` is not given. `?lease_time=MS` sets `leaseTime` unless the option does (at least 1000).
   */
  url?: string;
  /**
   * How long a fetched message stays invisible to other workers (ms). The consumer extends the
   * lease on a timer while it holds the message, so only a worker that died (or whose event loop
   * was blocked longer than this) lets it be redelivered, after at most this long. At least twice
   * `leaseRenewInterval`.
   * @defaultValue 30000, or the URL's `lease_time`
   */
  leaseTime?: number;
  /** How often a consumer extends the leases it holds (ms). At most half of `leaseTime`. @defaultValue leaseTime / 3 */
  leaseRenewInterval?: number;
  /**
   * How long a write waits for another process's write lock before failing (ms). Writes are
   * short, so this is only reached when something holds the file locked for long.
   * @defaultValue 5000
   */
  busyTimeout?: number;
  /**
   * Watch the `-wal` file (`fs.watch`) to learn of other processes' commits at once. Writes made
   * in this process wake consumers at once anyway. Turn it off where file events are unreliable
   * or costly; polling alone then finds writes within `maxPollInterval`.
   * @defaultValue true
   */
  watch?: boolean;
  /**
   * Idle consumers also look for other processes' writes (one `PRAGMA data_version`, no table
   * read) this often at least (ms); right after a change they look every `minPollInterval` and
   * back off by doubling. The bound on pickup latency when file events do not arrive.
   * @defaultValue 100 with `watch`, else 25
   */
  maxPollInterval?: number;
  /** The shortest interval between two looks, right after a change (ms). @defaultValue 2 */
  minPollInterval?: number;
  /** How long dead letters are kept (ms). @defaultValue env `dramatiq_dead_message_ttl`, else 7 days */
  deadMessageTtl?: number;
  /**
   * SQLite's `synchronous` setting. `normal` (with WAL) survives any process crash, `kill -9`
   * included, but may lose the last commits on power loss; `full` also survives power loss,
   * at the price of an fsync per commit.
   * @defaultValue "normal"
   */
  synchronous?: "normal" | "full";
}

/** The resolved settings of a {@link SqliteBroker} (defaults applied, validated); times in ms. */
export interface SqliteSettings {
  /** Absolute path of the database file. */
  readonly path: string;
  /** How long a fetched message stays invisible to other workers. */
  readonly leaseTime: number;
  /** How often a consumer extends the leases it holds. */
  readonly leaseRenewInterval: number;
  /** How long a write waits for another process's write lock. */
  readonly busyTimeout: number;
  /** Whether the `-wal` file is watched for other processes' commits. */
  readonly watch: boolean;
  /** Shortest interval between two looks for other processes' writes. */
  readonly minPollInterval: number;
  /** Longest interval between two looks for other processes' writes. */
  readonly maxPollInterval: number;
  /** How long dead letters are kept. */
  readonly deadMessageTtl: number;
  /** SQLite's `synchronous` setting. */
  readonly synchronous: "normal" | "full";
}

/** The defaults of {@link SqliteBrokerOptions}, in one place. */
export const SQLITE_DEFAULTS = Object.freeze({
  /** Database file, relative to the working directory. */
  path: "./dramats.sqlite",
  /** Lease of a fetched message, in ms. */
  leaseTime: 30_000,
  /** Wait for another process's write lock, in ms. */
  busyTimeout: 5_000,
  /** Watch the `-wal` file. */
  watch: true,
  /** Shortest interval between two looks, in ms. */
  minPollInterval: 2,
  /** Longest interval between two looks with `watch`, in ms. */
  maxPollInterval: 100,
  /** Longest interval between two looks without `watch`, in ms. */
  maxPollIntervalUnwatched: 25,
  /** How long dead letters are kept, in ms (7 days). */
  deadMessageTtl: 7 * 24 * 3600 * 1000,
  /** SQLite's `synchronous` setting. */
  synchronous: "normal" as const,
});

const SCHEME = "sqlite://";

/** The URL query parameters a `sqlite://` URL may carry. */
const URL_PARAMETERS: ReadonlySet<string> = new Set(["lease_time"]);

/**
 * The file a `sqlite://PATH` URL names (percent-decoded; a `?` in the name must be `%3F`).
 * @throws InvalidOptions for another scheme, an empty path, or a query parameter other than `lease_time`.
 */
export function pathFromUrl(url: string): string {
  return parseUrl(url).path;
}

/** The file a `sqlite://PATH[?lease_time=MS]` URL names, and the lease it sets. */
function parseUrl(url: string): { path: string; leaseTime: number | undefined } {
  if (!url.toLowerCase().startsWith(SCHEME)) {
    throw new InvalidOptions(`SqliteBroker url must start with sqlite://, got ${JSON.stringify(url)}`);
  }
  const [rest = "", query] = splitOnce(url.slice(SCHEME.length), "?");
  const params = new URLSearchParams(query ?? "");
  const unknown = [...params.keys()].filter((name) => !URL_PARAMETERS.has(name));
  if (rest.includes("#") || query?.includes("#") || unknown.length > 0) {
    throw new InvalidOptions(`SqliteBroker url ${JSON.stringify(url)} may name a file and lease_time only: pass other settings as options`);
  }
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch (error) {
    throw new InvalidOptions(`SqliteBroker url ${JSON.stringify(url)} is not valid percent-encoding`, { cause: error });
  }
  if (path === "") throw new InvalidOptions(`SqliteBroker url ${JSON.stringify(url)} names no file (try sqlite://./dramats.sqlite)`);
  let leaseTime: number | undefined;
  try {
    leaseTime = urlDuration(params, "lease_time");
  } catch (error) {
    throw new InvalidOptions(`SqliteBroker url ${JSON.stringify(url)}: ${(error as Error).message}`, { cause: error });
  }
  return { path, leaseTime };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/**
 * Applies defaults and validates.
 * @throws InvalidOptions for a bad URL or `:memory:`; RangeError for bad numbers.
 */
export function resolveSettings(options: SqliteBrokerOptions): SqliteSettings {
  const fromUrl = options.path === undefined && options.url !== undefined ? parseUrl(options.url) : undefined;
  const raw = options.path ?? fromUrl?.path ?? SQLITE_DEFAULTS.path;
  if (raw === "" || raw === ":memory:" || raw.startsWith("file:")) {
    throw new InvalidOptions(
      `SqliteBroker needs a database file that worker processes can open, got ${JSON.stringify(raw)}; ` +
        "for a single process without a file use the StubBroker (memory://)",
    );
  }
  const leaseTime = positive("leaseTime", options.leaseTime ?? fromUrl?.leaseTime ?? SQLITE_DEFAULTS.leaseTime);
  const leaseRenewInterval = positive("leaseRenewInterval", options.leaseRenewInterval ?? leaseTime / 3);
  // One late renewal must not let another worker take a message that still runs.
  if (leaseRenewInterval * 2 > leaseTime) {
    throw new RangeError(`SqliteBroker option leaseRenewInterval (${leaseRenewInterval}) must be at most half of leaseTime (${leaseTime})`);
  }
  const watch = options.watch ?? SQLITE_DEFAULTS.watch;
  const minPollInterval = positive("minPollInterval", options.minPollInterval ?? SQLITE_DEFAULTS.minPollInterval);
  const defaultMax = watch ? SQLITE_DEFAULTS.maxPollInterval : SQLITE_DEFAULTS.maxPollIntervalUnwatched;
  const maxPollInterval = positive("maxPollInterval", options.maxPollInterval ?? Math.max(minPollInterval, defaultMax));
  if (maxPollInterval < minPollInterval) {
    throw new RangeError(`SqliteBroker option maxPollInterval (${maxPollInterval}) must be at least minPollInterval (${minPollInterval})`);
  }
  const envTtl = Number(process.env.dramatiq_dead_message_ttl);
  const synchronous = options.synchronous ?? SQLITE_DEFAULTS.synchronous;
  if (synchronous !== "normal" && synchronous !== "full") {
    throw new RangeError(`SqliteBroker option synchronous must be "normal" or "full", got ${JSON.stringify(synchronous)}`);
  }
  return {
    path: resolve(raw),
    leaseTime: Math.round(leaseTime),
    leaseRenewInterval: Math.round(leaseRenewInterval),
    busyTimeout: Math.round(nonNegative("busyTimeout", options.busyTimeout ?? SQLITE_DEFAULTS.busyTimeout)),
    watch: watch !== false,
    minPollInterval,
    maxPollInterval,
    deadMessageTtl: Math.round(positive("deadMessageTtl", options.deadMessageTtl ?? (envTtl > 0 ? envTtl : SQLITE_DEFAULTS.deadMessageTtl))),
    synchronous,
  };
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`SqliteBroker option ${name} must be a positive number, got ${value}`);
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`SqliteBroker option ${name} must be a non-negative number, got ${value}`);
  }
  return value;
}
