import { readFileSync } from "node:fs";

/** Reads a `.lua` file next to this module (the build copies them into `dist/`). */
export function readLua(name: string): string {
  return readFileSync(new URL(`./${name}.lua`, import.meta.url), "utf8");
}
