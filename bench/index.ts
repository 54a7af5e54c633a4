// `npm run bench`: runs every bench script in this folder, one after another, each in its own
// process (so one bench's threads, timers and heap never skew another's figures).
// Bench scripts are `bench/*.ts` files other than this one and helpers (`*-actors.ts`, `stats.ts`,
// names starting with `_`). `npm run bench -- threads` runs only the benches whose names start so.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const HELPERS = new Set(["index.ts", "stats.ts"]);
const dir = fileURLToPath(new URL("./", import.meta.url));
const only = process.argv.slice(2);
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && !HELPERS.has(f) && !f.endsWith("-actors.ts") && !f.startsWith("_"))
  .filter((f) => only.length === 0 || only.some((name) => f.startsWith(name)))
  .sort();

let failed = 0;
for (const script of scripts) {
  console.log(`\n== ${script}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", `${dir}${script}`], {
    stdio: "inherit",
    env: { DRAMATS_LOG_LEVEL: "warn", ...process.env },
  });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
