/**
 * Building DOM from elements and text nodes, never from HTML strings: every piece of data goes in as text, so a hostile message body
 * is shown, never run. `h("a", { href, test: "queue-row" }, "text")`.
 */

/** What may be a child: nodes, text (numbers too), or nothing. */
export type Child = Node | string | number | null | undefined | false;

/** Attributes: `class`, `test` (→ data-test), `on<event>` listeners, booleans, DOM properties. */
export type Attrs = Record<string, unknown>;

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "title", "type", "placeholder", "name", "href", "htmlFor", "open"]);

/** Creates an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key === "test") el.setAttribute("data-test", String(value));
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value as EventListener);
    else if (PROPERTIES.has(key)) (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (flattening arrays, skipping nothing-values). */
export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Replaces every child of `parent`. */
export function replace(parent: Node, ...children: (Child | Child[])[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/** A table that scrolls sideways on narrow screens. */
export function table(test: string, head: string[], rows: HTMLTableRowElement[], empty = "Nothing here."): HTMLElement {
  const body = h("tbody", null, rows);
  if (rows.length === 0) body.appendChild(h("tr", null, h("td", { colspan: head.length, class: "muted" }, empty)));
  return h("div", { class: "scroll" }, h("table", { test }, h("thead", null, h("tr", null, head.map((title) => h("th", null, title)))), body));
}

/** A badge: `kind` is ok, warn, bad or muted. */
export function badge(text: string, kind: "ok" | "warn" | "bad" | "muted", test?: string, title?: string): HTMLElement {
  return h("span", { class: `badge ${kind}`, test, title }, text);
}

/** A note saying why something is not shown or not allowed. */
export function note(text: string, test = "note"): HTMLElement {
  return h("p", { class: "note", test }, text);
}
