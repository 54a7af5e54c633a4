// Cron schedules across three real worker processes on Redis: each tick runs exactly once,
// even when one process is killed mid-way.
import { expect } from "chai";
import { runCli } from "./cli/run-cli.ts";
import { deleteNamespace, redisClient, redisUrl, scanKeys, uniqueNamespace } from "./helpers/redis.ts";

describe("Scheduler on Redis with three worker processes", function () {
  this.timeout(60_000);

  it("enqueues each tick exactly once, also after a process is SIGKILLed", async () => {
    const url = await redisUrl();
    const namespace = uniqueNamespace("cron");
    const redis = await redisClient();
    const cli = runCli(["spec/fixtures/cron-worker.ts", "--processes", "3", "--threads", "2"], {
      env: { REDIS_URL: url, CRON_NAMESPACE: namespace, DRAMATS_BROKER: "" },
    });
    try {
      const pids = new Set<number>();
      await cli.waitFor((line) => {
        if (line.msg === "Scheduler started" && typeof line.pid === "number") pids.add(line.pid);
        return pids.size >= 3;
      }, 30_000);
      await new Promise((r) => setTimeout(r, 2_500));
      process.kill([...pids][0]!, "SIGKILL");
      await new Promise((r) => setTimeout(r, 3_000));
      cli.signal("SIGTERM");
      expect(await cli.exited(20_000)).to.equal(0);

      const runs = (await redis.lrange(`${namespace}:ticks`, 0, -1)).map((s) => JSON.parse(s) as { tick: number; pid: number });
      const ticks = runs.map((r) => r.tick).sort((a, b) => a - b);
      expect(ticks.length).to.be.at.least(4);
      expect(new Set(ticks).size, "a tick ran twice").to.equal(ticks.length);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!, "a tick was skipped").to.equal(1_000);
      const claims = await scanKeys(`${namespace}:__kv__:dramats:schedule:everySecond:*`);
      // One claim per tick; a tick claimed as the workers stopped may still wait in the queue.
      expect(claims.length).to.be.within(ticks.length, ticks.length + 1);
    } finally {
      cli.destroy();
      await deleteNamespace(namespace);
      redis.disconnect();
    }
  });
});
