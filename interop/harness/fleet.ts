// A mixed fleet on one broker: two Python Dramatiq workers and two `dramats` commands consume one
// queue that both sides fill. Every run lands on the ledger; each tag must run exactly once, and
// after a SIGKILL of a whole fleet member nothing may be lost.
import { check, checkError } from "./errors.ts";
import type { Run } from "./ledger.ts";
import { groupSetup, type Setup } from "./setup.ts";
import { HEARTBEAT_TIMEOUT, type Target } from "./targets.ts";

export const PER_SIDE = 1_000;

/** Sends PER_SIDE tags `<batch>-py-<i>` and `<batch>-node-<i>` from both sides at once. */
export async function sendBoth(setup: Setup, batch: string, pauseMs: number): Promise<void> {
  const tags = { python: [] as string[], node: [] as string[] };
  for (let i = 0; i < PER_SIDE; i++) {
    tags.python.push(`${batch}-py-${i}`);
    tags.node.push(`${batch}-node-${i}`);
  }
  await Promise.all([setup.senders.python!.sendMany(tags.python, pauseMs), setup.senders.node!.sendMany(tags.node, pauseMs)]);
}

/** Distinct tags run, the tags run more than once, and the runs per side. */
export function tally(runs: Run[]) {
  const seen = new Map<string, number>();
  for (const run of runs) seen.set(run.tag, (seen.get(run.tag) ?? 0) + 1);
  const duplicates = [...seen.entries()].filter(([, n]) => n > 1);
  const bySide = { python: runs.filter((r) => r.side === "python").length, node: runs.filter((r) => r.side === "node").length };
  return { distinct: seen.size, duplicates, bySide };
}

export const inBatch = (batch: string) => (run: Run) => run.actor === "interop_fleet" && run.tag.startsWith(`${batch}-`);

export function fleetChecks(target: Target): void {
  describe(`${target.name}: mixed fleet (2 Python workers, 2 dramats commands, one queue)`, function () {
    this.timeout(120_000);
    const group = groupSetup(target, "fleet", { workers: ["python", "node", "python", "node"], senders: ["python", "node"] });

    it(`exactly once: ${2 * PER_SIDE} messages sent from both sides each run exactly once, by both sides' workers`, async () => {
      await drainExactlyOnce(await group.ready(), "once");
    });

    for (const victim of ["python", "node"] as const) {
      const what = victim === "python" ? "a Python worker (python3 -m dramatiq, main and worker process)" : "a dramats command (supervisor and worker process)";
      it(`SIGKILL of ${what} mid-drain: nothing lost, survivors finish within the heartbeat timeout (${HEARTBEAT_TIMEOUT} ms) + 10 s`, async () => {
        console.log(await killMidDrain(await group.ready(), `kill-${victim}`, victim));
      });
    }
  });
}

/** Sends a batch from both sides; fails unless each message runs exactly once, on both sides' workers. */
export async function drainExactlyOnce(setup: Setup, batch: string, pauseMs = 2): Promise<void> {
  await sendBoth(setup, batch, pauseMs);
  const wanted = 2 * PER_SIDE;
  const test = inBatch(batch);
  await waitDistinct(setup, test, wanted, 60_000).catch(() => {
    const { distinct, duplicates } = tally(setup.ledger.select(test));
    throw checkError(`${wanted - distinct} of ${wanted} messages had not run after 60 s (${duplicates.length} ran more than once)`);
  });
  // Any second run of a message would come soon after the first: give them a moment.
  await setup.ledger.settle(test, setup.ledger.select(test).length, 1_000);
  const { duplicates, bySide } = tally(setup.ledger.select(test));
  check(duplicates.length === 0, `${duplicates.length} of ${wanted} messages ran more than once (e.g. ${duplicates.slice(0, 3).map(([tag, n]) => `${tag} ${n} times`).join(", ")})`);
  check(bySide.python > 0 && bySide.node > 0, `both sides must have run some: Python ${bySide.python}, Node ${bySide.node}`);
}

/**
 * Sends a batch from both sides, SIGKILLs the first `victim` fleet member (its whole process
 * group) after 300 runs (and `beforeKill`), and fails unless every message runs within the heartbeat timeout + 10 s
 * of the kill. Resolves with a line saying how long it took and how many ran twice.
 */
export async function killMidDrain(setup: Setup, batch: string, victim: "python" | "node", beforeKill?: () => Promise<void>): Promise<string> {
  const test = inBatch(batch);
  await sendBoth(setup, batch, 25);
  await setup.ledger.waitFor("runs before the kill", test, 300, 60_000);
  await beforeKill?.();
  const victims = victim === "python" ? setup.pythonWorkers : setup.nodeWorkers;
  const killed = victims.shift();
  check(killed !== undefined, `no ${victim} worker left to kill`);
  const killedAt = Date.now();
  if ("kill" in killed) killed.kill();
  else killed.destroy();
  const bound = HEARTBEAT_TIMEOUT + 10_000;
  const wanted = 2 * PER_SIDE;
  await waitDistinct(setup, test, wanted, bound).catch(() => {
    const { distinct } = tally(setup.ledger.select(test));
    throw checkError(`${wanted - distinct} of ${wanted} messages had not run ${bound} ms after the kill (lost or stuck)`);
  });
  const { duplicates, bySide } = tally(setup.ledger.select(test));
  return `      drained ${Date.now() - killedAt} ms after the kill; ${duplicates.length} ran twice (finished, unacknowledged by the killed process); runs: Python ${bySide.python}, Node ${bySide.node}`;
}

/** Resolves once `count` distinct tags ran; rejects after `timeout` ms. */
export async function waitDistinct(setup: Setup, test: (run: Run) => boolean, count: number, timeout: number): Promise<void> {
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
