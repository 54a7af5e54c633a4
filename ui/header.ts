/** The header: broker, version, read-only / operator state, the operator login form, logout. */
import type { SessionInfo } from "../lib/dashboard/api-types.ts";
import { errorMessage } from "./actions.ts";
import { badge, h, replace } from "./dom.ts";
import { login, logout } from "./session.ts";
import { toast } from "./toast.ts";

/** Draws the header for `s` into `root`. */
export function renderHeader(root: HTMLElement, s: SessionInfo): void {
  const state = s.readOnly
    ? badge("read-only", "muted", "session-state", "No operator token is configured: every action is refused.")
    : s.operator
      ? badge("operator", "ok", "session-state")
      : badge("viewer", "warn", "session-state", "Log in with the operator token to act.");
  let account: HTMLElement | null = null;
  if (!s.readOnly && s.operator) {
    account = h("button", { test: "logout", onclick: () => logout().then(() => toast("Logged out"), (e: unknown) => toast(errorMessage(e), "error")) }, "Log out");
  } else if (!s.readOnly) {
    const token = h("input", { type: "password", test: "login-token", placeholder: "Operator token", autocomplete: "current-password", "aria-label": "Operator token", required: true });
    account = h(
      "form",
      { class: "login", test: "login-form" },
      token,
      h("button", { type: "submit", class: "primary", test: "login-submit" }, "Log in"),
    );
    account.addEventListener("submit", (event) => {
      event.preventDefault();
      login(token.value).then(
        (next) => toast(next.operator ? "Logged in as operator" : "The token was not accepted", next.operator ? "ok" : "error"),
        (e: unknown) => toast(errorMessage(e), "error"),
      );
    });
  }
  replace(
    root,
    h("a", { class: "brand", href: "#/" }, "dramats"),
    h("span", { class: "broker", test: "broker" }, s.broker),
    h("span", { class: "version", test: "version" }, `v${s.version}`),
    h("span", { class: "spacer" }),
    state,
    account,
  );
}
