// Hostile input for the poison scenario, written through the producer's public API: an encoder
// that writes bytes no worker can decode for one marker actor, and plain messages naming an
// actor nobody declared or too large for the workers' size limit.
import { JsonEncoder, type Encoder } from "../lib/encoder.ts";
import type { MessageData } from "../lib/message.ts";

/** The actor name whose messages PoisonEncoder turns into undecodable bytes. */
export const GARBAGE_ACTOR = "chaos_garbage";
export const UNKNOWN_ACTOR = "chaos_no_such_actor";
/** The workers' message size limit in the poison scenario (DRAMATS_MAX_MESSAGE_SIZE). */
export const WORKER_MAX_SIZE = 64 * 1024;
/** An oversized message's argument: over the workers' limit, within the producer's. */
export const OVERSIZED_ARG = "x".repeat(WORKER_MAX_SIZE * 2);

export class PoisonEncoder implements Encoder {
  // The producer may write what the workers refuse: its limit is its own, not the environment's.
  readonly #json = new JsonEncoder({ maxSize: 1024 * 1024 });

  encode(data: MessageData): string {
    if (data.actor_name === GARBAGE_ACTOR) return `\u0000not json {${data.message_id}`;
    return this.#json.encode(data);
  }

  decode(data: string | Buffer): MessageData {
    return this.#json.decode(data);
  }
}
