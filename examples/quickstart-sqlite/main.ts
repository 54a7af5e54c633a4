// The README's main job (`npm run quickstart`): starts a `dramats` worker fleet on the embedded
// SQLite broker, enqueues jobs from this process, prints their results, and stops the workers.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const DRAMATS = fileURLToPath(new URL("../../lib/cli/main.ts", import.meta.url)); // `npx dramats` in an app
const ACTORS = fileURLToPath(new URL("./actors.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

// A fresh folder to work in: the embedded broker is ./dramats.sqlite in the working directory.
const home = process.cwd();
const dir = mkdtempSync(join(tmpdir(), "dramats-quickstart-"));
process.chdir(dir);

// 1. The workers: two processes, each running up to 8 actors at once.
const workers = spawn(process.execPath, ["--import", TSX, DRAMATS, ACTORS, "--processes", "2", "--no-metrics"], {
  stdio: ["ignore", "pipe", "inherit"],
});
createInterface({ input: workers.stdout! }).on("line", (line) => {
  // The supervisor's lifecycle lines, and any warning or error, from the JSON logs.
  try {
    const entry = JSON.parse(line) as { msg: string; level: number; process?: string };
    if (entry.process === "MainProcess" || entry.level >= 40) console.log(`[dramats] ${entry.msg}`);
  } catch {
    console.log(`[dramats] ${line}`);
  }
});
const exited = new Promise<number>((resolve) => workers.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
const died = exited.then((code) => Promise.reject(new Error(`the workers exited early with code ${code}`)));
died.catch(() => {}); // Only a failure while waiting for results matters.

// 2. The app: enqueue jobs (they wait in the SQLite file until a worker takes them), then print
// their results as the workers return them.
let code = 0;
let broker: { close(): Promise<void> } | undefined;
try {
  const actors = await import("./actors.ts");
  broker = actors.broker;
  const { add, greet, flakyPing } = actors;
  const jobs = [
    ["add(2, 3)", await add.send(2, 3)],
    ['greet("Ada")', await greet.send("Ada")],
    ['greet("Alan", "fr"), 500 ms later', await greet.sendWithOptions({ args: ["Alan", "fr"], delay: 500 })],
    ['flakyPing("example.org")', await flakyPing.send("example.org")],
  ] as const;
  for (const [call, message] of jobs) {
    const result = await Promise.race([message.result({ timeout: 30_000 }), died]);
    console.log(`${call} = ${JSON.stringify(result)}`);
  }
} catch (error) {
  console.error(`quickstart failed: ${(error as Error).message}`);
  code = 1;
}

// 3. Stop the workers: running actors finish, then every process exits cleanly.
workers.kill("SIGTERM");
const workersCode = await exited;
console.log(`[dramats] exited with code ${workersCode}`);
await broker?.close();
process.chdir(home);
rmSync(dir, { recursive: true, force: true });
process.exit(code || workersCode);
