/**
 * Key names. The full layout, and which keys Python Dramatiq shares, is documented at the
 * top of `common.lua`; scripts derive a queue's other keys from its base key `ns:q`.
 */
export class RedisKeys {
  /** `ns:` */
  readonly prefix: string;
  /** `ns:__heartbeats__`: consumer id → last heartbeat (Dramatiq's name). */
  readonly heartbeats: string;
  /** `ns:__dramats_consumers__`: consumer id → queue, the registry of acks sets. */
  readonly consumers: string;

  constructor(readonly namespace: string) {
    this.prefix = `${namespace}:`;
    this.heartbeats = `${this.prefix}__heartbeats__`;
    this.consumers = `${this.prefix}__dramats_consumers__`;
  }

  /** `ns:q`: Dramatiq's list of ready ids, and the base every other key of `q` derives from. */
  queue(queueName: string): string {
    return this.prefix + queueName;
  }

  /** `ns:q.msgs`: id → payload. */
  messages(queueName: string): string {
    return `${this.prefix}${queueName}.msgs`;
  }

  /** `ns:q:wake`: the marker idle consumers block on. */
  wake(queueName: string): string {
    return `${this.prefix}${queueName}:wake`;
  }

  /** `ns:q:wake:<consumer id>`: one consumer's own marker, set to end its wait early. */
  ownWake(queueName: string, consumerId: string): string {
    return `${this.prefix}${queueName}:wake:${consumerId}`;
  }

  /** `ns:__acks__.<consumer id>.<q>`: what one consumer holds (Dramatiq's name, per consumer). */
  acks(consumerId: string, queueName: string): string {
    return `${this.prefix}__acks__.${consumerId}.${queueName}`;
  }
}
