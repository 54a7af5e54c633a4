/** A modal confirmation, optionally asking to type a word (the queue's name) first. */
import { h } from "./dom.ts";

/** What to ask. */
export interface ConfirmOptions {
  title: string;
  body: string;
  /** The OK button's label. */
  ok: string;
  /** When set, OK stays disabled until this exact text is typed. */
  typeToConfirm?: string;
  danger?: boolean;
}

/** Resolves true when the person confirmed. */
export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const input = options.typeToConfirm === undefined ? null : h("input", { type: "text", test: "confirm-input", autocomplete: "off", "aria-label": "Type to confirm" });
    const ok = h("button", { class: options.danger ? "danger" : "primary", test: "confirm-ok", disabled: input !== null }, options.ok);
    const cancel = h("button", { test: "confirm-cancel" }, "Cancel");
    const overlay = h(
      "div",
      { class: "overlay", test: "confirm-dialog" },
      h(
        "div",
        { class: "dialog", role: "dialog", "aria-modal": "true" },
        h("h2", null, options.title),
        h("p", null, options.body),
        input && h("label", null, "Type ", h("code", null, options.typeToConfirm ?? ""), " to confirm", input),
        h("div", { class: "row end" }, cancel, ok),
      ),
    );
    const done = (answer: boolean): void => {
      overlay.remove();
      document.removeEventListener("keydown", onKey);
      resolve(answer);
    };
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === "Escape") done(false);
    };
    input?.addEventListener("input", () => (ok.disabled = input.value !== options.typeToConfirm));
    ok.addEventListener("click", () => done(true));
    cancel.addEventListener("click", () => done(false));
    document.addEventListener("keydown", onKey);
    document.body.appendChild(overlay);
    (input ?? ok).focus();
  });
}
