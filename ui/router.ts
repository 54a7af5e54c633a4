/**
 * Hash routing: `#/`, `#/queues/:name`, `#/queues/:name/messages/:id`, `#/dead/:queue`,
 * `#/workers`, `#/schedules`, `#/charts`; a page's own state goes in the hash's query
 * (`#/queues/default?state=delayed&offset=50`), so back and reload keep it.
 */

/** What a page is given. */
export interface PageContext {
  /** The route's `:name` parts, decoded. */
  params: Record<string, string>;
  /** The hash's query. */
  query: URLSearchParams;
  /** Runs `fn` when the page is left (stop polling, destroy charts). */
  onLeave(fn: () => void): void;
  /** True until the page is left: an answer arriving later is dropped. */
  live(): boolean;
}

/** A page: draws itself into `root`. */
export type Page = (root: HTMLElement, ctx: PageContext) => void;

/** A route: a pattern such as `/queues/:name` and its page; `nav` is the nav entry it lights. */
export interface Route {
  pattern: string;
  page: Page;
  nav: string;
}

/** Where a route is: `href("/queues/:name", { name: "a b" }, { state: "dead" })` → `#/queues/a%20b?state=dead`. */
export function href(path: string, query?: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  const text = search.toString();
  return `#${path}${text ? `?${text}` : ""}`;
}

/** Encodes a path segment for {@link href}. */
export const part = encodeURIComponent;

function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const have = path.split("/").filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      try {
        params[want[i].slice(1)] = decodeURIComponent(have[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== have[i]) return null;
  }
  return params;
}

/** Starts routing; `shown(nav)` is told which nav entry to light. Returns a function that redraws the current page. */
export function startRouter(root: HTMLElement, routes: Route[], notFound: Page, shown: (nav: string) => void): () => void {
  let leave: (() => void)[] = [];
  let alive = { value: false };
  const render = (): void => {
    for (const fn of leave) fn();
    leave = [];
    alive.value = false;
    alive = { value: true };
    const token = alive;
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, search = ""] = hash.split("?");
    const ctx = (params: Record<string, string>): PageContext => ({
      params,
      query: new URLSearchParams(search),
      onLeave: (fn) => leave.push(fn),
      live: () => token.value,
    });
    while (root.firstChild) root.removeChild(root.firstChild);
    for (const route of routes) {
      const params = match(route.pattern, path);
      if (params) {
        shown(route.nav);
        route.page(root, ctx(params));
        return;
      }
    }
    shown("");
    notFound(root, ctx({}));
  };
  window.addEventListener("hashchange", render);
  render();
  return render;
}
