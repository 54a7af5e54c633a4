import { Broker, type Consumer, type DeadLetter, type QueueDepths } from "../broker.ts";
import { DramatsError } from "../errors.ts";

function unavailable(what: string): DramatsError {
  return new DramatsError(
    `${what} is not available inside a pool thread unless your module calls setBroker(...) itself: ` +
      "a broker given with --broker or DRAMATS_BROKER lives in the worker process, not in its threads",
  );
}

/**
 * The global broker inside a pool thread when the user's modules set none. It only keeps the
 * actor registry, so a thread finds actors by name without opening a broker connection.
 */
export class ThreadRegistry extends Broker {
  /**
   * Every option: the worker process already checked the actors against its chain, and a pool
   * thread only looks actors up by name (it runs no middleware of its own).
   */
  protected override acceptsActorOption(): boolean {
    return true;
  }

  protected async writeMessage(): Promise<void> {
    throw unavailable("Sending messages");
  }
  consume(): Consumer {
    throw unavailable("Consuming");
  }
  override async join(): Promise<void> {
    throw unavailable("join");
  }
  protected deadLetterCursor(): undefined {
    return undefined;
  }
  protected async lookAtQueue(): Promise<never> {
    throw unavailable("join");
  }
  override async flush(): Promise<void> {
    throw unavailable("flush");
  }
  protected async flushQueue(): Promise<void> {
    throw unavailable("flush");
  }
  async depths(): Promise<QueueDepths> {
    throw unavailable("depths");
  }
  async deadLetters(): Promise<DeadLetter[]> {
    throw unavailable("deadLetters");
  }
  async requeueDeadLetters(): Promise<number> {
    throw unavailable("requeueDeadLetters");
  }
  protected async closeConnections(): Promise<void> {}
}
