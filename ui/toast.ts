/** Short messages at the corner of the screen: what an action did, or why it failed. */
import { h } from "./dom.ts";

/** Shows `message` for a few seconds; errors stay longer. */
export function toast(message: string, kind: "ok" | "error" = "ok"): void {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast ${kind}`, test: "toast", "data-kind": kind, role: kind === "error" ? "alert" : "status" }, h("span", { test: "toast-text" }, message));
  const close = (): void => item.remove();
  item.appendChild(h("button", { class: "link", "aria-label": "Dismiss", onclick: close }, "×"));
  box.appendChild(item);
  setTimeout(close, kind === "error" ? 12_000 : 5_000);
}
