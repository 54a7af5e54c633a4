/** The message list shared by the queue and dead-letter pages: rows, filter form, filter summary, pager. */
import type { MessagePage, MessageSummary } from "../lib/dashboard/api-types.ts";
import { badge, h, table } from "./dom.ts";
import { count, preview, relative, time } from "./format.ts";
import { href, part } from "./router.ts";

/** Rows can be ticked (dead letters). */
export interface Selectable {
  selected: Set<string>;
  changed(): void;
}

function argsCell(m: MessageSummary): HTMLElement {
  if (m.malformed !== null) {
    return h("td", null, badge("malformed", "bad", "malformed", m.malformed), " ", h("span", { class: "muted small" }, m.malformed), h("pre", { class: "raw", test: "raw" }, m.raw ?? ""));
  }
  const parts: string[] = [];
  if (m.args && m.args.length) parts.push(preview(m.args, 60));
  if (m.kwargs && Object.keys(m.kwargs).length) parts.push(preview(m.kwargs, 60));
  return h("td", { class: "mono" }, parts.join(" ") || "()");
}

/** The table of one page of messages. */
export function messageTable(queue: string, page: MessagePage, select?: Selectable): HTMLElement {
  const state = page.state;
  const head = ["ID", "Actor", "Arguments", "Enqueued", "Retries"];
  if (state === "delayed") head.push("ETA");
  if (state === "dead") head.push("Dead", "Reason");
  if (select) head.unshift("");
  const now = Date.now();
  const rows = page.messages.map((m) => {
    const link = h("a", { href: href(`/queues/${part(queue)}/messages/${part(m.id)}`, { state }), test: "message-link", class: "mono id", title: m.id }, m.id);
    const cells: HTMLElement[] = [
      h("td", null, link),
      h("td", null, m.actor ?? "—"),
      argsCell(m),
      h("td", { title: time(m.enqueuedAt), class: "nowrap" }, relative(m.enqueuedAt, now)),
      h("td", { class: "num" }, String(m.retries)),
    ];
    if (state === "delayed") cells.push(h("td", { title: time(m.eta), class: "nowrap" }, relative(m.eta, now)));
    if (state === "dead") cells.push(h("td", { title: time(m.deadAt), class: "nowrap" }, relative(m.deadAt, now)), h("td", { class: "reason" }, m.reason ?? "—"));
    if (select) {
      const box = h("input", { type: "checkbox", test: "dead-select", checked: select.selected.has(m.id), "aria-label": `Select ${m.id}` });
      box.addEventListener("change", () => {
        if (box.checked) select.selected.add(m.id);
        else select.selected.delete(m.id);
        select.changed();
      });
      cells.unshift(h("td", null, box));
    }
    return h("tr", { test: state === "dead" ? "dead-row" : "message-row", "data-id": m.id, class: m.malformed ? "malformed" : "" }, cells);
  });
  return table("messages", head, rows, page.filter ? "No message matched among those scanned." : `No ${state} message.`);
}

/** The current filter from the hash's query. */
export interface Filter {
  actor: string;
  text: string;
}

/** A form for actor and text; `apply` gets the new values. */
export function filterForm(current: Filter, apply: (next: Filter) => void): HTMLElement {
  const actor = h("input", { type: "search", name: "actor", value: current.actor, placeholder: "Actor", test: "filter-actor", "aria-label": "Actor" });
  const text = h("input", { type: "search", name: "text", value: current.text, placeholder: "Text in the message", test: "filter-text", "aria-label": "Text" });
  const form = h(
    "form",
    { class: "row filter", test: "filter-form" },
    actor,
    text,
    h("button", { type: "submit", test: "filter-apply" }, "Filter"),
    current.actor || current.text ? h("button", { type: "button", test: "filter-clear", onclick: () => apply({ actor: "", text: "" }) }, "Clear") : null,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply({ actor: actor.value.trim(), text: text.value.trim() });
  });
  return form;
}

/** `Matched 3 of 200 scanned (every message)`, or nothing without a filter. */
export function filterSummary(page: MessagePage): HTMLElement | null {
  if (!page.filter) return null;
  const f = page.filter;
  return h(
    "p",
    { class: "small", test: "filter-summary", "data-complete": String(f.complete) },
    `Matched ${count(f.matched)} of ${count(f.scanned)} scanned`,
    f.complete ? " (every message scanned)" : ` (of ${count(page.total)}: not every message was scanned)`,
  );
}

/** Previous / next links for offset paging; `at(offset)` makes the link. */
export function pager(page: MessagePage, at: (offset: number) => string): HTMLElement {
  const first = page.messages.length ? page.offset + 1 : 0;
  const last = page.offset + page.messages.length;
  const hasNext = page.filter ? page.messages.length >= page.limit : last < page.total;
  return h(
    "div",
    { class: "row pager", test: "pager" },
    page.offset > 0 ? h("a", { class: "button", href: at(Math.max(0, page.offset - page.limit)), test: "page-prev" }, "← Previous") : null,
    h("span", { class: "small", test: "page-range" }, page.filter ? `${first}–${last}` : `${first}–${last} of ${count(page.total)}`),
    hasNext ? h("a", { class: "button", href: at(page.offset + page.limit), test: "page-next" }, "Next →") : null,
  );
}
