// A worker process SIGKILLed after a chord member arrived at the barrier and before the callback
// was enqueued: the member, unacknowledged, is redelivered to another process and its arrival
// there enqueues the callback, once.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { group, Worker } from "../lib/index.ts";
import { openChordPlace, type ChordPlaceEnv } from "./fixtures/chord-place.ts";
import { tempDatabase, waitFor } from "./fixtures/sqlite-files.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

for (const kind of ["Redis", "SQLite"] as const) {
  describe(`GroupCallbacks on ${kind}: a crash between the last arrival and the callback's enqueue`, function () {
    this.timeout(30_000);

    it("loses no callback and fires it once", async () => {
      const db = kind === "SQLite" ? tempDatabase() : undefined;
      const env: ChordPlaceEnv = { REDIS_URL: await redisUrl(), CHORD_NAMESPACE: uniqueNamespace("chord-crash"), ...(db ? { SQLITE_PATH: db.path } : {}) };
      const fired: string[] = [];
      const members: number[] = [];
      const place = openChordPlace(env, [], (tag) => fired.push(tag), (n) => members.push(n));
      let worker: Worker | undefined;
      try {
        const child = spawn(process.execPath, ["--import", "tsx", new URL("./fixtures/chord-killed.ts", import.meta.url).pathname], {
          env: { ...process.env, DRAMATS_LOG_LEVEL: "silent", ...env },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
        await waitFor(() => output.includes("ready") || child.exitCode !== null, 15_000, "the worker process to start");

        await group([place.member.message(1)], { broker: place.broker }).addCompletionCallback(place.done.message("fired")).run();
        expect(await exited, `the worker process was to die enqueueing the callback; it said: ${output}`).to.equal("SIGKILL");
        expect(fired).to.deep.equal([]);

        worker = new Worker(place.broker, { fetchTimeout: 100 });
        await worker.start();
        await waitFor(() => fired.length > 0, 15_000, "the callback after the member's redelivery");
        await place.broker.join("default");
        expect(fired).to.deep.equal(["fired"]);
        expect(members, "the member ran again here").to.deep.equal([1]);
      } finally {
        await worker?.stop({ timeout: 2_000 });
        await place.broker.close();
        await place.backend.close();
        await deleteNamespace(env.CHORD_NAMESPACE);
        await deleteNamespace(`${env.CHORD_NAMESPACE}-limits`);
        db?.cleanup();
      }
    });
  });
}
