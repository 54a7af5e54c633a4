import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tsxEntry } from "../threads/tsx.ts";

/**
 * Inside a source checkout of dramats, the compiled bin (`npx dramats` after `npm ci` builds
 * dist/) runs the TypeScript sources instead. The repository's examples import `lib/` itself,
 * and a CLI from `dist/` would be a second copy of the library: the examples' actors would be
 * declared on a broker the command never sees, and it would boot with no actors. An installed
 * package has no `lib/` beside `dist/`, so this never applies there.
 * @returns true when the sources were run (this compiled file then has nothing left to do).
 */
export async function runFromSourceCheckout(compiledMain: string): Promise<boolean> {
  if (!compiledMain.endsWith(".js")) return false;
  const source = new URL("../../../lib/cli/main.ts", compiledMain);
  if (!fileURLToPath(compiledMain).includes("/dist/lib/cli/") || !existsSync(fileURLToPath(source))) return false;
  const api = tsxEntry("./esm/api");
  if (api === undefined) return false;
  const { register } = (await import(api)) as { register: () => unknown };
  register();
  await import(source.href);
  return true;
}
