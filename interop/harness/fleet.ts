// A mixed fleet on one broker: two Python Dramatiq workers and two `dramats` commands consume one
// queue that both sides fill. Every run lands on the ledger; each tag must run exactly once, and
// after a SIGKILL of a whole fleet member nothing may be lost.
import { strict as assert } from "node:assert";
import { check, checkError } from "./errors.ts";
import type { Run } from "./ledger.ts";
import { groupSetup, type Setup } from "./setup.ts";
import { HEARTBEAT_TIMEOUT, type Target } from "./targets.ts";

const PER_SIDE = 1_000;

export function fleetChecks(target: Target): void {
  describe(`${target.name}: mixed fleet (2 Python workers, 2 dramats commands, one queue)`, function () {
    this.timeout(120_000);
    const group = groupSetup(target, "fleet", { workers: ["python", "node", "python", "node"], senders: ["python", "node"] });

    /** Sends PER_SIDE tags from each side at once; resolves with the tags. */
    async function sendBoth(setup: Setup, batch: string, pauseMs: number): Promise<Set<string>> {
      const tags = { python: [] as string[], node: [] as string[] };
      for (let i = 0; i < PER_SIDE; i++) {
        tags.python.push(`${batch}-py-${i}`);
        tags.node.push(`${batch}-node-${i}`);
      }
      await Promise.all([setup.senders.python!.sendMany(tags.python, pauseMs), setup.senders.node!.sendMany(tags.node, pauseMs)]);
      return new Set([...tags.python, ...tags.node]);
    }

    /** Distinct tags run, duplicates, and the runs per side. */
    function tally(runs: Run[]) {
      const seen = new Map<string, number>();
      for (const run of runs) seen.set(run.tag, (seen.get(run.tag) ?? 0) + 1);
      const duplicates = [...seen.entries()].filter(([, n]) => n > 1);
      const bySide = { python: runs.filter((r) => r.side === "python").length, node: runs.filter((r) => r.side === "node").length };
      return { distinct: seen.size, duplicates, bySide };
    }

    const inBatch = (batch: string) => (run: Run) => run.actor === "interop_fleet" && run.tag.startsWith(`${batch}-`);

    it(`exactly once: ${2 * PER_SIDE} messages sent from both sides each run exactly once, by both sides' workers`, async () => {
      const setup = await group.ready();
      await sendBoth(setup, "once", 2);
      const wanted = 2 * PER_SIDE;
      const test = inBatch("once");
      await setup.ledger.waitFor("the fleet drained the batch", (run) => test(run), wanted, 60_000).catch((error: Error) => {
        throw checkError(`${error.message.split(" (seen")[0]}; ${tally(setup.ledger.select(test)).distinct} distinct tags`);
      });
      const runs = await setup.ledger.settle(test, wanted, 1_000);
      const { distinct, duplicates, bySide } = tally(runs);
      assert.equal(distinct, wanted, `${wanted - distinct} messages never ran`);
      assert.deepEqual(duplicates.slice(0, 5), [], `${duplicates.length} messages ran more than once`);
      check(bySide.python > 0 && bySide.node > 0, `both sides must have run some: Python ${bySide.python}, Node ${bySide.node}`);
    });

    for (const victim of ["python", "node"] as const) {
      const what = victim === "python" ? "a Python worker (python3 -m dramatiq, main and worker process)" : "a dramats command (supervisor and worker process)";
      it(`SIGKILL of ${what} mid-drain: nothing lost, survivors finish within the heartbeat timeout (${HEARTBEAT_TIMEOUT} ms) + 10 s`, async () => {
        const setup = await group.ready();
        const batch = `kill-${victim}`;
        const test = inBatch(batch);
        await sendBoth(setup, batch, 25);
        await setup.ledger.waitFor("runs before the kill", test, 300, 60_000);
        const victims = victim === "python" ? setup.pythonWorkers : setup.nodeWorkers;
        const killed = victims.shift();
        check(killed !== undefined, `no ${victim} worker left to kill`);
        const killedAt = Date.now();
        if ("kill" in killed) killed.kill();
        else killed.destroy();
        const bound = HEARTBEAT_TIMEOUT + 10_000;
        const remaining = () => 2 * PER_SIDE - tally(setup.ledger.select(test)).distinct;
        // Wait for every tag (distinct), counting duplicates apart.
        await waitDistinct(setup, test, 2 * PER_SIDE, bound).catch(() => {
          throw checkError(`${remaining()} of ${2 * PER_SIDE} messages had not run ${bound} ms after the kill (lost or stuck)`);
        });
        const took = Date.now() - killedAt;
        const { duplicates, bySide } = tally(setup.ledger.select(test));
        console.log(`      drained ${took} ms after the kill; ${duplicates.length} ran twice (finished, unacknowledged by the killed process); runs: Python ${bySide.python}, Node ${bySide.node}`);
      });
    }
  });
}

/** Resolves once `count` distinct tags ran; rejects after `timeout` ms. */
async function waitDistinct(setup: Setup, test: (run: Run) => boolean, count: number, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const distinct = new Set(setup.ledger.select(test).map((r) => r.tag)).size;
    if (distinct >= count) return;
    const left = deadline - Date.now();
    if (left <= 0) throw checkError("timeout");
    // Wake on the next run recorded (or at the deadline).
    await setup.ledger.waitFor("next", test, setup.ledger.select(test).length + 1, left).catch(() => undefined);
  }
}
