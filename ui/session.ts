/** What this browser may do (`api/session`), and logging in and out as operator. */
import type { SessionInfo } from "../lib/dashboard/api-types.ts";
import { get, post, setCsrf } from "./api.ts";

let current: SessionInfo | null = null;
const listeners = new Set<(session: SessionInfo) => void>();

/** The session last read; throws before the first {@link loadSession}. */
export function session(): SessionInfo {
  if (!current) throw new Error("the session is not loaded yet");
  return current;
}

/** Calls `listener` whenever the session changes (login, logout, reload). */
export function onSession(listener: (session: SessionInfo) => void): void {
  listeners.add(listener);
}

function set(next: SessionInfo): SessionInfo {
  current = next;
  setCsrf(next.csrf);
  for (const listener of listeners) listener(next);
  return next;
}

/** Reads `api/session`. */
export async function loadSession(): Promise<SessionInfo> {
  return set(await get<SessionInfo>("session"));
}

/** Logs in with the operator token. */
export async function login(token: string): Promise<SessionInfo> {
  return set(await post<SessionInfo>("login", { token }));
}

/** Logs out. */
export async function logout(): Promise<SessionInfo> {
  return set(await post<SessionInfo>("logout"));
}

/** Why actions are not allowed now, or null when they are. */
export function whyNoActions(s: SessionInfo = session()): string | null {
  if (s.readOnly) return "Read-only dashboard: no operator token is configured, so every action is refused.";
  if (!s.operator) return "Log in as operator (top right) to act.";
  return null;
}
