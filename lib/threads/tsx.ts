import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The file URL of one of tsx's ES module entry points (`"."` or `"./esm/api"`), found through
 * tsx's package.json exports. `import.meta.resolve` would be simpler, but is missing when this
 * file itself was loaded as CommonJS (mocha under tsx does that).
 * @returns undefined when tsx is not installed.
 */
export function tsxEntry(subpath: "." | "./esm/api"): string | undefined {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve("tsx/package.json");
  } catch {
    return undefined;
  }
  const exports = (JSON.parse(readFileSync(manifest, "utf8")) as { exports: Record<string, unknown> }).exports;
  let target = exports[subpath];
  // A conditional export: take the ES module's file.
  while (target !== null && typeof target === "object") {
    const conditions = target as Record<string, unknown>;
    target = conditions.import ?? conditions.default;
  }
  if (typeof target !== "string") return undefined;
  return pathToFileURL(join(dirname(manifest), target)).href;
}
