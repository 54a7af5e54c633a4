import { createHash } from "node:crypto";
import { describeError, ResultFailure, ResultMissing, ResultTimeout } from "../errors.ts";
import { canonicalQueueName } from "../queue-names.ts";

/** What a result is stored for: enough of a message to build its key. */
export interface ResultKeySource {
  /** The message's queue. */
  readonly queueName: string;
  /** The message's actor. */
  readonly actorName: string;
  /** The message's id. */
  readonly messageId: string;
}

/** Options of `message.result()` and `ResultBackend.getResult`. */
export interface GetResultOptions {
  /** Wait for the result (without polling) up to `timeout`; false returns or throws at once. @defaultValue true */
  block?: boolean;
  /** Milliseconds to wait when blocking. @defaultValue 10000 */
  timeout?: number;
}

/** Dramatiq's marker for a stored failure. */
const FAILURE_TAG = "dramatiq.results.Result";

interface StoredFailure {
  __t: typeof FAILURE_TAG;
  exn: { type: string; msg: string };
}

/**
 * Stores actor results under Dramatiq's keys (md5 of `namespace:queue:actor:message_id`) and
 * format, so Python and Node workers read each other's results. Adapters implement two
 * primitives: store a string with a TTL, and read one, optionally waiting for it to appear.
 */
export abstract class ResultBackend {
  /** Prefix of every key, as in Dramatiq. @defaultValue "dramatiq-results" */
  readonly namespace: string;

  constructor(options: { namespace?: string } = {}) {
    this.namespace = options.namespace ?? "dramatiq-results";
  }

  /** Replaces the value at `key`, expiring after `ttl` ms. */
  protected abstract storeRaw(key: string, value: string, ttl: number): Promise<void>;

  /** The value at `key`; when `timeout` > 0, waits up to that long for one to be stored. */
  protected abstract readRaw(key: string, timeout: number): Promise<string | undefined>;

  /** Releases the backend's connections. */
  abstract close(): Promise<void>;

  /** The key a message's result is stored under: Dramatiq's md5 of `namespace:queue:actor:message_id`. */
  keyFor(source: ResultKeySource): string {
    const raw = `${this.namespace}:${canonicalQueueName(source.queueName)}:${source.actorName}:${source.messageId}`;
    return createHash("md5").update(raw).digest("hex");
  }

  /** Stores a successful result (JSON). */
  async storeResult(source: ResultKeySource, result: unknown, ttl: number): Promise<void> {
    await this.storeRaw(this.keyFor(source), JSON.stringify(result ?? null), ttl);
  }

  /** Stores a final failure, in Dramatiq's format. */
  async storeFailure(source: ResultKeySource, error: unknown, ttl: number): Promise<void> {
    const failure: StoredFailure = {
      __t: FAILURE_TAG,
      exn: { type: error instanceof Error ? error.name : "Error", msg: error instanceof Error ? error.message : describeError(error) },
    };
    await this.storeRaw(this.keyFor(source), JSON.stringify(failure), ttl);
  }

  /**
   * The stored result.
   * @throws ResultFailure when the actor failed for good; ResultMissing (non-blocking) or
   *   ResultTimeout (blocking) when there is none.
   */
  async getResult<R = unknown>(source: ResultKeySource, options: GetResultOptions = {}): Promise<R> {
    const block = options.block ?? true;
    const timeout = options.timeout ?? 10_000;
    const raw = await this.readRaw(this.keyFor(source), block ? timeout : 0);
    if (raw === undefined) {
      if (block) throw new ResultTimeout(`No result for message ${source.messageId} within ${timeout} ms`);
      throw new ResultMissing(`No result stored for message ${source.messageId}`);
    }
    const value = JSON.parse(raw) as unknown;
    if (isFailure(value)) {
      throw new ResultFailure(`actor raised ${value.exn.type}: ${value.exn.msg}`, value.exn.type, value.exn.msg);
    }
    return value as R;
  }
}

function isFailure(value: unknown): value is StoredFailure {
  return typeof value === "object" && value !== null && (value as StoredFailure).__t === FAILURE_TAG;
}
