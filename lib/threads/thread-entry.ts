// The code each piscina thread runs: import the user's modules (as the worker process did),
// then run actors by name. Functions cannot cross threads; names and JSON values can.
import { workerData } from "node:worker_threads";
import type { Actor } from "../actor.ts";
import { peekBroker, setBroker } from "../broker.ts";
import { ActorNotFound } from "../errors.ts";
import { Message } from "../message.ts";
import { ThreadRegistry } from "./registry.ts";
import { serializeError, type ThreadOutcome, type ThreadTask, type WarmUpTask } from "./wire.ts";

/** What the pool passes every thread. */
export interface ThreadData {
  /** URLs (or package names) of the user's modules, in command-line order. */
  modules: string[];
}

const NEVER_ABORTED = new AbortController().signal;
const exportsSeen: unknown[] = [];

// Set before the imports so actors land in a registry, not on a connection of their own.
if (peekBroker() === undefined) setBroker(new ThreadRegistry());

// Top-level await: modules are loaded before the first task. It also makes piscina fall back
// from require() to import(), so this file and the user's modules share one module graph.
const loadError: unknown = await (async () => {
  for (const url of (workerData as ThreadData).modules) exportsSeen.push(await import(url));
})().then(
  () => undefined,
  (error: unknown) => error ?? new Error("Module import failed"),
);

function looksLikeActor(value: unknown, name: string): value is Actor {
  return typeof value === "function" && (value as { actorName?: unknown }).actorName === name && typeof (value as Actor).invoke === "function";
}

/** Actors on the global broker, else exported ones (those declared with an explicit `broker`). */
function findActor(name: string): Actor {
  const found = peekBroker()?.findActor(name);
  if (found) return found;
  for (const exports of exportsSeen) {
    for (const value of Object.values(exports as object)) {
      if (looksLikeActor(value, name)) return value;
      // Static methods decorated with @actor live one level down, on the exported class.
      if (typeof value === "function") {
        for (const key of Object.getOwnPropertyNames(value)) {
          const member = (value as unknown as Record<string, unknown>)[key];
          if (looksLikeActor(member, name)) return member;
        }
      }
    }
  }
  throw new ActorNotFound(name);
}

/** JSON-safe copy of a result, so it crosses threads exactly as it would cross the broker. */
function jsonSafe(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export default async function runTask(task: ThreadTask | WarmUpTask): Promise<ThreadOutcome> {
  try {
    if (loadError !== undefined) throw loadError;
    if ("warmUp" in task) return { ok: true, result: undefined };
    const actor = findActor(task.actorName);
    const result = await actor.invoke(task.args, { signal: NEVER_ABORTED, message: Message.fromData(task.message) });
    return { ok: true, result: jsonSafe(result) };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}
