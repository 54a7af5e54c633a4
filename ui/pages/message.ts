/** One message: summary, pipeline / group info, failures with tracebacks, options and the whole message as JSON. */
import type { MessageDetail, MessageState } from "../../lib/dashboard/api-types.ts";
import { actionBar, actionButton, actionsNote, errorMessage } from "../actions.ts";
import { get, query, seg } from "../api.ts";
import { badge, h, replace } from "../dom.ts";
import { pretty, relative, time } from "../format.ts";
import { href, part, type Page } from "../router.ts";

function fields(pairs: [string, string | Node | null][]): HTMLElement {
  return h(
    "dl",
    { class: "fields" },
    pairs.filter(([, v]) => v !== null && v !== "").flatMap(([k, v]) => [h("dt", null, k), h("dd", { "data-field": k }, v)]),
  );
}

function section(title: string, test: string, ...content: (Node | null)[]): HTMLElement {
  return h("section", { class: "panel", test }, h("h2", null, title), content);
}

const PIPELINE_KEYS = ["pipe_target", "pipe_ignore", "group_info", "group_completion", "group_id", "on_success", "on_failure", "composition_id"];

/** Requeue or delete this dead letter, then back to the list. */
function deadActions(m: MessageDetail): HTMLElement {
  const back = (): void => void (location.hash = href(`/dead/${part(m.queue)}`));
  const path = (verb: string): string => `queues/${seg(m.queue)}/dead-letters/${verb}`;
  return h(
    "div",
    null,
    actionsNote(),
    actionBar(
      actionButton({ label: "Requeue", test: "requeue-message", path: path("requeue"), body: () => ({ ids: [m.id], expect: 1 }), done: back }),
      actionButton({
        label: "Delete",
        test: "delete-message",
        path: path("delete"),
        danger: true,
        capability: "deleteDeadLetters",
        body: () => ({ ids: [m.id], expect: 1 }),
        confirm: () => ({ title: "Delete this dead letter?", body: `Message ${m.id} is gone for good.`, ok: "Delete", danger: true }),
        done: back,
      }),
    ),
  );
}

function draw(root: HTMLElement, m: MessageDetail): void {
  const o = m.options;
  const now = Date.now();
  const maxRetries = o.max_retries === undefined ? null : String(o.max_retries);
  const pipeline = PIPELINE_KEYS.filter((k) => o[k] !== undefined && o[k] !== null);
  replace(
    root,
    h("p", { class: "small" }, h("a", { href: href(`/queues/${part(m.queue)}`, { state: m.state }) }, `← ${m.queue} (${m.state})`)),
    h("div", { class: "title" }, h("h1", { class: "mono break" }, m.id), badge(m.state, m.state === "dead" ? "bad" : "muted", "message-state"), m.malformed !== null ? badge("malformed", "bad", "malformed") : null),
    m.state === "dead" ? deadActions(m) : null,
    fields([
      ["Actor", m.actor ?? "—"],
      ["Queue", m.queue],
      ["Enqueued", m.enqueuedAt === null ? null : `${time(m.enqueuedAt)} (${relative(m.enqueuedAt, now)})`],
      ["ETA", m.eta === null ? null : `${time(m.eta)} (${relative(m.eta, now)})`],
      ["Retries", maxRetries === null ? String(m.retries) : `${m.retries} of ${maxRetries}`],
      ["Dead since", m.deadAt === null ? null : `${time(m.deadAt)} (${relative(m.deadAt, now)})`],
      ["Reason", m.reason],
      ["Malformed", m.malformed],
    ]),
    pipeline.length ? section("Pipeline and group", "pipeline", h("pre", { class: "json" }, pretty(Object.fromEntries(pipeline.map((k) => [k, o[k]]))))) : null,
    m.failures.length
      ? section(
          "Failures",
          "failures",
          ...m.failures.map((f) => h("div", { class: "failure", test: "failure" }, h("p", { class: "error-text" }, f.error), f.traceback ? h("pre", { class: "traceback", test: "traceback" }, f.traceback) : null)),
        )
      : null,
    m.message !== null ? section("Message", "message", h("pre", { class: "json", test: "message-json" }, pretty(m.message))) : null,
    section("Options", "options", h("pre", { class: "json", test: "options-json" }, pretty(o))),
    m.message === null
      ? section("Stored bytes", "raw", h("pre", { class: "raw", test: "raw" }, m.raw))
      : h("details", { class: "panel", test: "raw" }, h("summary", null, "Stored bytes"), h("pre", { class: "raw" }, m.raw)),
  );
}

/** `#/queues/:queue/messages/:id?state=` */
export const messagePage: Page = (root, ctx) => {
  const { queue, id } = ctx.params;
  const state = (ctx.query.get("state") ?? "") as MessageState | "";
  replace(root, h("p", { class: "muted" }, "Loading…"));
  get<MessageDetail>(`queues/${seg(queue)}/messages/${seg(id)}${query({ state })}`).then(
    (m) => ctx.live() && draw(root, m),
    (e: unknown) =>
      ctx.live() &&
      replace(root, h("p", { class: "small" }, h("a", { href: href(`/queues/${part(queue)}`, { state }) }, `← ${queue}`)), h("div", { class: "banner error", test: "error" }, errorMessage(e))),
  );
};
