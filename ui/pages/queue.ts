/** One queue: tabs ready / delayed / dead, filter, paging; pause / resume and purge. */
import type { MessagePage, MessageState, Overview, QueueSummary } from "../../lib/dashboard/api-types.ts";
import { actionBar, actionButton, actionsNote, capabilityOff, errorMessage } from "../actions.ts";
import { get, query, seg } from "../api.ts";
import { badge, h, note, replace } from "../dom.ts";
import { count } from "../format.ts";
import { filterForm, filterSummary, messageTable, pager } from "../messages.ts";
import { href, part, type Page } from "../router.ts";
import { session } from "../session.ts";

const STATES: MessageState[] = ["ready", "delayed", "dead"];
/** Messages per page. */
export const LIMIT = 50;

/** `#/queues/:queue?state=&offset=&actor=&text=` */
export const queuePage: Page = (root, ctx) => {
  const queue = ctx.params.queue;
  const state = (STATES as string[]).includes(ctx.query.get("state") ?? "") ? (ctx.query.get("state") as MessageState) : "ready";
  const offset = Math.max(0, Number(ctx.query.get("offset")) || 0);
  const filter = { actor: ctx.query.get("actor") ?? "", text: ctx.query.get("text") ?? "" };
  const path = `/queues/${part(queue)}`;
  const at = (q: Record<string, string | number>): string => href(path, { state, actor: filter.actor, text: filter.text, ...q });

  const head = h("div", { class: "title" }, h("h1", null, queue));
  const actions = h("div");
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("p", { class: "small" }, h("a", { href: "#/" }, "← Queues")), head, actions, tabs, body);

  const drawSummary = (summary: QueueSummary | undefined): void => {
    replace(head, h("h1", null, queue), summary?.paused ? badge("paused", "warn", "paused-badge") : null);
    replace(
      tabs,
      STATES.map((s) =>
        h("a", { href: href(path, { state: s }), class: s === state ? "tab active" : "tab", role: "tab", test: `tab-${s}` }, s, summary ? h("span", { class: "count" }, count(summary[s])) : null),
      ),
    );
    const reload = (): void => void load();
    replace(
      actions,
      actionsNote(),
      capabilityOff("pause") ? note(`Pausing: ${capabilityOff("pause")}`, "pause-off") : null,
      actionBar(
        summary?.paused
          ? actionButton({ label: "Resume", test: "resume-queue", path: `queues/${seg(queue)}/resume`, capability: "pause", done: reload })
          : actionButton({ label: "Pause", test: "pause-queue", path: `queues/${seg(queue)}/pause`, capability: "pause", done: reload }),
        actionButton({
          label: "Purge…",
          test: "purge-queue",
          path: `queues/${seg(queue)}/purge`,
          danger: true,
          body: () => ({ confirm: queue }),
          confirm: () => ({
            title: `Purge ${queue}?`,
            body: `This deletes the messages of ${queue}${summary ? ` (now ${count(summary.ready)} ready, ${count(summary.delayed)} delayed, ${count(summary.dead)} dead)` : ""}. It cannot be undone.`,
            ok: "Purge",
            danger: true,
            typeToConfirm: queue,
          }),
          done: reload,
        }),
        state === "dead" ? h("a", { class: "button", href: href(`/dead/${part(queue)}`), test: "manage-dead" }, "Manage dead letters →") : null,
      ),
    );
  };

  const load = async (): Promise<void> => {
    const caps = session().capabilities;
    const overview = get<Overview>("overview").then(
      (o) => o.queues.find((q) => q.name === queue),
      () => undefined,
    );
    if (!caps.browse) {
      const summary = await overview;
      if (!ctx.live()) return;
      drawSummary(summary);
      replace(body, note(caps.notes.browse ?? "This broker cannot list messages without consuming them.", "browse-off"));
      return;
    }
    try {
      const [summary, page] = await Promise.all([
        overview,
        get<MessagePage>(`queues/${seg(queue)}/messages${query({ state, offset, limit: LIMIT, actor: filter.actor, text: filter.text })}`),
      ]);
      if (!ctx.live()) return;
      drawSummary(summary);
      replace(
        body,
        filterForm(filter, (next) => (location.hash = href(path, { state, ...next }))),
        filterSummary(page),
        messageTable(queue, page),
        pager(page, (o) => at({ offset: o })),
      );
    } catch (e) {
      if (ctx.live()) replace(body, h("div", { class: "banner error", test: "error" }, errorMessage(e)));
    }
  };
  void load();
};
