import { readFileSync } from "node:fs";

/** The package version, from the package.json above this file (source or dist). */
export function version(): string {
  for (let dir = new URL("./", import.meta.url); dir.pathname !== "/"; dir = new URL("../", dir)) {
    try {
      const manifest = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: string; version?: string };
      if (manifest.name === "dramats") return manifest.version ?? "0.0.0";
    } catch {
      // Not here; look one folder up.
    }
  }
  return "0.0.0";
}
