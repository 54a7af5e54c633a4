import type { Actor, ActorContext } from "../actor.ts";
import type { Broker } from "../broker.ts";
import { ActorNotFound, describeError, MessageCancelled, Retry, SkipMessage } from "../errors.ts";
import { messageFields, type Logger } from "../logging.ts";
import type { Message } from "../message.ts";
import type { MessageProxy } from "../message-proxy.ts";
import type { ProcessOutcome } from "../middleware.ts";

/**
 * Runs one message through the before-hooks, its actor and the after-hooks, and leaves on its
 * proxy what the Settler needs (failed, a retry, a dead-letter reason). It never settles: the
 * worker settles every message once this is done, however it ended.
 *
 * The steps run synchronously for as long as none returns a promise: a quick actor under the
 * default middleware costs no promise and no extra turn of the event loop.
 */
export class Processor {
  readonly #broker: Broker;
  readonly #log: Logger;
  /** Runs whose actor was still working when the run was failed (time limit, cancel, shutdown). */
  abandoned = 0;
  /** Of those, the ones whose actor has not finished yet: real concurrency is inFlight + this. */
  abandonedRunning = 0;

  constructor(broker: Broker, logger: Logger) {
    this.#broker = broker;
    this.#log = logger;
  }

  /** Processes the message; a promise only when a step had to wait. Never rejects for the actor's errors. */
  process(proxy: MessageProxy): Promise<void> | undefined {
    const broker = this.#broker;
    const actor = broker.findActor(proxy.actorName);
    if (actor === undefined) {
      proxy.fail(new ActorNotFound(proxy.actorName));
      return undefined;
    }
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ ...messageFields(proxy), redelivered: proxy.redelivered }, "Message received");
    let before: void | Promise<void>;
    try {
      // Hooks return a promise only when they have something to wait for.
      before = broker.emit("beforeProcessMessage", broker, proxy);
    } catch (error) {
      return this.#beforeFailed(proxy, error);
    }
    if (before === undefined) return this.#runActor(proxy, actor);
    return before.then(
      () => this.#runActor(proxy, actor),
      (error) => this.#beforeFailed(proxy, error),
    );
  }

  /**
   * Only a defect of the worker or of a hook's contract gets here (hooks' own errors are
   * handled by the chain). The message must still end somewhere visible: unless a retry is
   * already decided, it is dead-lettered with the error.
   */
  unexpected(proxy: MessageProxy, error: unknown): void {
    this.#log.error({ err: error, ...messageFields(proxy) }, "Unexpected error while processing a message");
    if (proxy.retry === undefined && !proxy.failed) {
      proxy.fail(error);
      proxy.deadLetterReason = `Unexpected error while processing: ${describeError(error)}`;
    }
  }

  /**
   * A before-hook threw. SkipMessage leaves the message unrun, settled as the hook left it
   * (acked, failed or put back for later); any other MiddlewareError fails the run as an
   * actor's error would (Dramatiq's rule), so Retries decides between a retry and a dead letter.
   */
  #beforeFailed(proxy: MessageProxy, error: unknown): Promise<void> | undefined {
    if (!(error instanceof SkipMessage)) {
      proxy.error = error;
      this.#log.warn({ ...messageFields(proxy), err: error }, "A middleware failed before the actor ran");
      return this.#afterRun(proxy, { error });
    }
    if (proxy.failed && proxy.error === undefined) proxy.error = error;
    this.#log.info({ ...messageFields(proxy), reason: error.message }, "Message skipped");
    const broker = this.#broker;
    const after = broker.emit("afterSkipMessage", broker, proxy);
    return after === undefined ? undefined : after;
  }

  #runActor(proxy: MessageProxy, actor: Actor): Promise<void> | undefined {
    if (proxy.failed) return this.#afterRun(proxy, NO_RESULT);
    proxy.startedAt = Date.now();
    if (this.#log.isLevelEnabled("debug")) this.#log.debug(messageFields(proxy), "Actor started");
    let out: unknown;
    try {
      out = this.#run(actor, proxy);
    } catch (error) {
      return this.#afterRun(proxy, this.#failed(proxy, error));
    }
    if (out instanceof Promise) {
      return out.then(
        (result: unknown) => this.#afterRun(proxy, this.#succeeded(proxy, result)),
        (error: unknown) => this.#afterRun(proxy, this.#failed(proxy, error)),
      );
    }
    return this.#afterRun(proxy, this.#succeeded(proxy, out));
  }

  #succeeded(proxy: MessageProxy, result: unknown): ProcessOutcome {
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ ...messageFields(proxy), durationMs: Date.now() - proxy.startedAt }, "Actor succeeded");
    return result === undefined ? NO_RESULT : { result };
  }

  #failed(proxy: MessageProxy, error: unknown): ProcessOutcome {
    proxy.error = error;
    // Once per failed attempt, with the stack; Retries then says whether it will retry.
    const level = error instanceof Retry ? "debug" : error instanceof MessageCancelled ? "info" : "warn";
    this.#log[level]({ ...messageFields(proxy), durationMs: Date.now() - proxy.startedAt, err: error }, "Actor failed");
    return { error };
  }

  #afterRun(proxy: MessageProxy, outcome: ProcessOutcome): Promise<void> | undefined {
    const broker = this.#broker;
    const after = broker.emit("afterProcessMessage", broker, proxy, outcome);
    return after === undefined ? undefined : after;
  }

  /** Calls the actor, and fails at once if a middleware aborts the run (time limit, cancel, shutdown). */
  #run(actor: Actor, proxy: MessageProxy): unknown {
    const message = proxy.message;
    let args: unknown[] = message.args;
    for (const _ in message.kwargs) {
      // Keyword arguments (from Python producers) arrive as one trailing object.
      args = [...args, message.kwargs];
      break;
    }
    const context = new RunContext(proxy);
    const out = this.#broker.wrapProcess(proxy, () => actor.invoke(args, context));
    if (out === null || typeof out !== "object" || typeof (out as Promise<unknown>).then !== "function") return out;
    return this.#raceAbort(out as Promise<unknown>, proxy);
  }

  /**
   * Settles with the actor's promise, or rejects as soon as the run is aborted. An aborted
   * actor that ignores its signal keeps running: its run is counted as abandoned until it ends.
   */
  #raceAbort<T>(promise: Promise<T>, proxy: MessageProxy): Promise<T> {
    if (proxy.abortReason !== undefined) {
      // Aborted before the actor returned its promise: it was never awaited.
      this.#abandon(promise);
      return Promise.reject(proxy.abortReason);
    }
    return new Promise<T>((resolve, reject) => {
      let done = false;
      proxy.onAbort = (reason) => {
        reject(reason);
        // An actor that heeds its signal ends within the turn (after its promise's callbacks):
        // only one still running after that is abandoned.
        setImmediate(() => {
          if (!done) this.#abandon(promise);
        });
      };
      promise.then(
        (value) => {
          done = true;
          proxy.onAbort = undefined;
          resolve(value);
        },
        (error) => {
          done = true;
          proxy.onAbort = undefined;
          reject(error);
        },
      );
    });
  }

  #abandon(promise: Promise<unknown>): void {
    this.abandoned++;
    this.abandonedRunning++;
    const ended = () => {
      this.abandonedRunning--;
    };
    promise.then(ended, ended);
  }
}

/** The outcome of a run that returned nothing (shared: hooks only read outcomes). */
const NO_RESULT: ProcessOutcome = Object.freeze({ result: undefined });

/** An actor's `this` while the worker runs it (a class: cheaper to make than a literal with a getter). */
class RunContext implements ActorContext {
  readonly #proxy: MessageProxy;
  readonly message: Message;

  constructor(proxy: MessageProxy) {
    this.#proxy = proxy;
    this.message = proxy.message;
  }

  /** Created on first use, by the proxy. */
  get signal(): AbortSignal {
    return this.#proxy.signal;
  }
}
