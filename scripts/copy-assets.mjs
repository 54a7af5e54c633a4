// Copies the non-TypeScript files the compiled package reads at run time into dist/:
// the Redis broker's Lua scripts, which brokers/redis/scripts.ts loads next to itself; and
// makes the bin executable.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const assets = [{ from: "brokers/redis", to: "dist/brokers/redis", ext: ".lua" }];

let copied = 0;
for (const { from, to, ext } of assets) {
  const source = join(root, from);
  if (!existsSync(source)) continue;
  const target = join(root, to);
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(source)) {
    if (!name.endsWith(ext)) continue;
    copyFileSync(join(source, name), join(target, name));
    copied++;
  }
}
if (copied === 0) {
  console.error("copy-assets: no Lua scripts found under brokers/redis");
  process.exit(1);
}
console.log(`copy-assets: copied ${copied} file(s)`);

// The package's bin, executable: npm marks it so when it installs the package, but `npx dramats`
// inside a checkout may run it through a link npx made earlier, which no install marks again
// ("dramats: Permission denied" on a fresh build).
const bin = join(root, "dist/lib/cli/main.js");
if (existsSync(bin)) chmodSync(bin, 0o755);
