/**
 * Stop or restart requests for one worker process (the dashboard's buttons): a key per worker
 * in the shared {@link KeyValueStore} where the worker registry lives (the broker's own store,
 * or the `--store` store on RabbitMQ). A `dramats` worker process checks its key every few
 * seconds, deletes it when it takes the request up, and stops gracefully; on "restart" its
 * supervisor starts a fresh process in its place, on "stop" it does not.
 */
import { InvalidOptions } from "./errors.ts";
import type { KeyValueStore } from "./key-value-store.ts";

/** What may be asked of a worker process. */
export type WorkerControlAction = "stop" | "restart";

/** A pending request, as stored. */
export interface WorkerControlRequest {
  /** What was asked. */ action: WorkerControlAction;
  /** Who asked (`dashboard`, an operator's name...). */ by: string;
  /** Epoch ms of the request. */ at: number;
}

/** A request not taken up within this long (ms) expires: the process it was for is gone or stuck. */
export const WORKER_CONTROL_TTL = 5 * 60_000;

/** The store key of the requests for worker process `workerId` (a registry record id, `host/pid/start`). */
export function workerControlKey(workerId: string): string {
  return `dramats:control:${workerId}`;
}

/**
 * Asks worker process `workerId` (a worker registry record id) to stop or restart; replaces a
 * request not yet taken up. The process takes it up within a few seconds, if it is alive.
 * @throws InvalidOptions for an empty id or an unknown action
 */
export async function requestWorkerControl(store: KeyValueStore, workerId: string, action: WorkerControlAction, options: { by?: string } = {}): Promise<void> {
  checkId(workerId);
  if (action !== "stop" && action !== "restart") throw new InvalidOptions(`A worker control action is "stop" or "restart", got ${JSON.stringify(action)}`);
  const request: WorkerControlRequest = { action, by: options.by ?? "unknown", at: Date.now() };
  await store.set(workerControlKey(workerId), JSON.stringify(request), WORKER_CONTROL_TTL);
}

/** The action asked of `workerId` and not yet taken up, or null. */
export async function pendingWorkerControl(store: KeyValueStore, workerId: string): Promise<WorkerControlAction | null> {
  return (await readWorkerControl(store, workerId))?.action ?? null;
}

/** The request pending for `workerId`, or undefined (also for a value that is not a request). */
export async function readWorkerControl(store: KeyValueStore, workerId: string): Promise<WorkerControlRequest | undefined> {
  checkId(workerId);
  const text = await store.get(workerControlKey(workerId));
  return text === undefined ? undefined : parseWorkerControl(text);
}

/** Withdraws the request pending for `workerId`, if any (the worker does this as it takes one up). */
export async function clearWorkerControl(store: KeyValueStore, workerId: string): Promise<void> {
  checkId(workerId);
  await store.delete(workerControlKey(workerId));
}

/** A stored request, or undefined for anything else. */
export function parseWorkerControl(text: string): WorkerControlRequest | undefined {
  try {
    const value = JSON.parse(text) as Partial<WorkerControlRequest> | null;
    if (typeof value !== "object" || value === null || (value.action !== "stop" && value.action !== "restart")) return undefined;
    return { action: value.action, by: typeof value.by === "string" ? value.by : "unknown", at: typeof value.at === "number" ? value.at : 0 };
  } catch {
    return undefined;
  }
}

function checkId(workerId: string): void {
  if (typeof workerId !== "string" || workerId.length === 0) throw new InvalidOptions(`A worker id is a worker registry record id (host/pid/start), got ${JSON.stringify(workerId)}`);
}
