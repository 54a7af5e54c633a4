import type { Actor } from "./actor.ts";
import type { Broker } from "./broker.ts";
import { DramatsError, InvalidOptions } from "./errors.ts";

// The process's default broker: the one actors declared without a `broker` option use.

let globalBroker: Broker | undefined;
const globalActors = new Map<string, Actor>();

/**
 * Makes `broker` the one actors without an explicit `broker` option use, and declares every
 * such actor on it (so modules may declare actors before the broker is chosen).
 */
export function setBroker(broker: Broker): Broker {
  globalBroker = broker;
  for (const actor of globalActors.values()) broker.declareActor(actor);
  return broker;
}

/** @throws DramatsError when no broker was set. */
export function getBroker(): Broker {
  if (globalBroker === undefined) {
    throw new DramatsError("No broker is set: call setBroker(new RedisBroker(...)) (or another broker) first");
  }
  return globalBroker;
}

/** The global broker, or undefined. */
export function peekBroker(): Broker | undefined {
  return globalBroker;
}

/** @internal Registers an actor that follows the global broker. */
export function registerGlobalActor(actor: Actor): void {
  const existing = globalActors.get(actor.actorName);
  if (existing && existing !== actor) {
    throw new InvalidOptions(`An actor named ${JSON.stringify(actor.actorName)} is already registered`);
  }
  globalActors.set(actor.actorName, actor);
  globalBroker?.declareActor(actor);
}
