// Who may act on the dashboard. Without an operator token it is read-only: every POST is refused.
// With one, a browser logs in once (the token, compared in constant time) and gets an operator
// cookie bound to its session; every POST must also carry the session's CSRF token in the
// `x-csrf-token` header, which a page of another origin cannot read or send.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { cookies, HttpError } from "./http.ts";

const SESSION_COOKIE = "dramats_session";
const OPERATOR_COOKIE = "dramats_operator";
/** Sessions and operator logins last this long (s) without a new login. */
const SESSION_SECONDS = 12 * 3600;
const SESSION_ID = /^[A-Za-z0-9_-]{22,64}$/;

/** A request's session, as the guard sees it. */
export interface Visit {
  /** The session id (new when the request had none: `setCookies` then holds its cookie). */
  readonly session: string;
  /** Logged in with the operator token. */
  readonly operator: boolean;
  /** Where the dashboard is mounted: the cookies' path. */
  readonly path: string;
  /** Cookies to set on the answer. */
  readonly setCookies: string[];
}

export class Guard {
  readonly #token: Uint8Array | undefined;
  readonly #secret = new Uint8Array(randomBytes(32));

  /** `token`: the operator token (undefined or empty: read-only). */
  constructor(token: string | undefined) {
    this.#token = token === undefined || token === "" ? undefined : digest(token);
  }

  /** No operator token was configured. */
  get readOnly(): boolean {
    return this.#token === undefined;
  }

  /** The request's session (a new one when it has none or a forged one); `path`: where the dashboard is mounted. */
  visit(request: IncomingMessage, secure: boolean, path: string): Visit {
    const jar = cookies(request);
    const given = jar.get(SESSION_COOKIE);
    if (given !== undefined && SESSION_ID.test(given)) {
      const operator = !this.readOnly && same(jar.get(OPERATOR_COOKIE) ?? "", this.#sign("operator", given));
      return { session: given, operator, path, setCookies: [] };
    }
    const session = randomBytes(24).toString("base64url");
    return { session, operator: false, path, setCookies: [this.#cookie(SESSION_COOKIE, session, secure, path)] };
  }

  /** The CSRF token of a session. */
  csrf(session: string): string {
    return this.#sign("csrf", session);
  }

  /**
   * Checks a state-changing request: the CSRF header first, then the operator login.
   * @throws HttpError 403 `csrf` (missing or wrong token), `read_only` (no operator token configured), `forbidden` (not logged in)
   */
  authorize(request: IncomingMessage, visit: Visit): void {
    this.checkCsrf(request, visit);
    if (this.readOnly) throw new HttpError(403, "read_only", "This dashboard is read-only: start it with an operator token (--token or DRAMATS_DASHBOARD_TOKEN) to act");
    if (!visit.operator) throw new HttpError(403, "forbidden", "Log in with the operator token to act");
  }

  /** @throws HttpError 403 `csrf` unless the request carries the session's CSRF token. */
  checkCsrf(request: IncomingMessage, visit: Visit): void {
    const header = request.headers["x-csrf-token"];
    if (typeof header !== "string" || !same(header, this.csrf(visit.session))) {
      throw new HttpError(403, "csrf", "Missing or wrong CSRF token: send the x-csrf-token header that GET api/session gives");
    }
  }

  /**
   * Logs a session in when `token` is the operator token; the cookie to set.
   * @throws HttpError 403 on a wrong token or a read-only dashboard
   */
  login(token: unknown, visit: Visit, secure: boolean): string {
    if (this.#token === undefined) throw new HttpError(403, "read_only", "This dashboard is read-only: it has no operator token");
    if (typeof token !== "string" || !timingSafeEqual(digest(token), this.#token)) throw new HttpError(403, "forbidden", "Wrong operator token");
    return this.#cookie(OPERATOR_COOKIE, this.#sign("operator", visit.session), secure, visit.path);
  }

  /** The cookie that ends an operator login. */
  logout(secure: boolean, visit: Visit): string {
    return this.#cookie(OPERATOR_COOKIE, "", secure, visit.path, 0);
  }

  #sign(purpose: string, session: string): string {
    return createHmac("sha256", this.#secret).update(`${purpose}:${session}`).digest("base64url");
  }

  #cookie(name: string, value: string, secure: boolean, path: string, maxAge = SESSION_SECONDS): string {
    return `${name}=${value}; Path=${path === "" ? "/" : path}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
  }
}

function digest(text: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(text, "utf8").digest());
}

/** Constant-time comparison of two strings (of any lengths). */
function same(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}
