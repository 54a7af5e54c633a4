// A copy of the repository as a fresh checkout has it (no installed, built or local files), with
// the installed node_modules linked in rather than installed again. For specs that run the README's
// commands or pack the package as a new user would.
import { cpSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Not part of a fresh checkout: installed or built files, local databases, git's own. */
const NOT_COPIED = new Set(["node_modules", ".git", "dist"]);
export const isLocalDatabase = (path: string): boolean => /\.sqlite(-wal|-shm)?$/.test(path);

/** Copies the working tree (uncommitted edits included) into a new temporary folder; returns it. */
export function copyRepository(prefix: string): string {
  const copy = mkdtempSync(join(tmpdir(), prefix));
  cpSync(ROOT, copy, {
    recursive: true,
    filter: (src) => {
      const path = relative(ROOT, src);
      return !NOT_COPIED.has(path.split("/")[0]!) && !isLocalDatabase(basename(src));
    },
  });
  // What `npm ci` installs, without installing it again.
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
  return copy;
}
