/**
 * Buttons that POST an action: disabled (with the reason as their title) when this session may
 * not act or the broker cannot; they confirm first when asked, then show the ActionResult's or
 * the ApiError's message.
 */
import type { ActionResult, Capabilities } from "../lib/dashboard/api-types.ts";
import { ApiFailure, post } from "./api.ts";
import { confirmDialog, type ConfirmOptions } from "./dialog.ts";
import { h, note } from "./dom.ts";
import { loadSession, session, whyNoActions } from "./session.ts";
import { toast } from "./toast.ts";

/** A capability that can be off. */
export type Capability = Exclude<keyof Capabilities, "notes">;

/** One action button. */
export interface ActionSpec {
  label: string;
  /** Its data-test hook. */
  test: string;
  /** Under `api/`. */
  path: string;
  /** The JSON body, read when clicked. */
  body?: () => unknown;
  /** Ask first (read when clicked, so it may hold fresh counts). */
  confirm?: () => ConfirmOptions;
  /** Disabled, saying why, when the broker lacks it. */
  capability?: Capability;
  danger?: boolean;
  /** After success (reload the page's data). */
  done?: (result: ActionResult) => void;
  /** After a failure (e.g. a 409 on a dead-letter selection). */
  failed?: (error: unknown) => void;
  /** Extra reason to disable it. */
  disabledBecause?: string | null;
}

/** Why the capability is off, in the broker's words. */
export function capabilityOff(capability: Capability): string | null {
  const caps = session().capabilities;
  if (caps[capability]) return null;
  return caps.notes[capability] ?? `This broker does not support it (${capability}).`;
}

/** The message for people from an error of a call. */
export function errorMessage(error: unknown): string {
  return error instanceof ApiFailure || error instanceof Error ? error.message : String(error);
}

/** A button that runs the action. */
export function actionButton(spec: ActionSpec): HTMLButtonElement {
  const why = whyNoActions() ?? (spec.capability ? capabilityOff(spec.capability) : null) ?? spec.disabledBecause ?? null;
  const button = h("button", { class: spec.danger ? "danger" : "", test: spec.test, disabled: why !== null, title: why ?? undefined }, spec.label);
  button.addEventListener("click", async () => {
    if (spec.confirm && !(await confirmDialog(spec.confirm()))) return;
    button.disabled = true;
    try {
      const result = await post<ActionResult>(spec.path, spec.body ? spec.body() : {});
      toast(result.message, "ok");
      spec.done?.(result);
    } catch (error) {
      toast(errorMessage(error), "error");
      spec.failed?.(error);
      // An expired session or a stale CSRF token: read the session again (the header and the
      // buttons follow it).
      if (error instanceof ApiFailure && (error.code === "csrf" || error.code === "forbidden")) loadSession().catch(() => undefined);
    } finally {
      if (button.isConnected) button.disabled = false;
    }
  });
  return button;
}

/** The page's note saying why actions are off, or nothing. */
export function actionsNote(): HTMLElement | null {
  const why = whyNoActions();
  return why === null ? null : note(why, "actions-note");
}

/** A container of action buttons. */
export function actionBar(...buttons: (HTMLElement | null)[]): HTMLElement {
  return h("div", { class: "row actions" }, buttons);
}
