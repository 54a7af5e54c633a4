// What every scenario works with: its own queue and ledger folder on one broker, the fleets it
// starts (always cleaned up), sending, and waiting for the drain with a deadline.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { QueueDepths } from "../lib/broker.ts";
import { BrokerError } from "../lib/errors.ts";
import { Message } from "../lib/message.ts";
// Held timers: the runner must stay alive while it waits (lib/sleep.ts unrefs its timer).
import { setTimeout as sleep } from "node:timers/promises";
import { APP_ENV } from "./app-env.ts";
import { Fleet, type FleetSettings } from "./fleet.ts";
import { LedgerReader } from "./ledger.ts";
import type { Profile } from "./profiles.ts";
import { Tally } from "./tally.ts";
import type { Target } from "./targets.ts";

/** How often the runner reads the ledger and the queue's depths (ms). */
const POLL = 100;
/** Looks at the depths a connection fault interrupted, at most this many times (backing off by POLL). */
const DEPTHS_ATTEMPTS = 10;

/**
 * How long the queue may look empty with nothing running before the drain stops waiting for
 * missing ids (ms). Longer than a blocked process's wait for the supervisor's kill, since
 * RabbitMQ's depths cannot see what another connection holds unacknowledged.
 */
const IDLE_GIVE_UP = 15_000;

/** When the first fault of a loop comes, after the first run (ms). */
const FIRST_FAULT_AFTER = 300;

/** 0-20 ms of work for message `i`, spread evenly and the same on every run. */
export const workMs = (i: number): number => (i * 7919) % 21;

export interface Drain {
  /** Resolves once every expected id ran and the queue holds nothing ready, delayed or in flight, or at the deadline. */
  readonly finished: Promise<void>;
  readonly done: () => boolean;
  /** ms from the first run until the last expected id first finished (undefined: not all did). */
  drainMs(): number | undefined;
  timedOut(): boolean;
}

export class Context {
  readonly tally = new Tally();
  readonly #ledger: LedgerReader;
  readonly #fleets: Fleet[] = [];
  readonly ledgerDir: string;
  #logs = 0;

  constructor(
    readonly target: Target,
    readonly queue: string,
    readonly dir: string,
    readonly settings: FleetSettings,
    readonly profile: Profile,
    readonly extraEnv: Record<string, string>,
  ) {
    this.ledgerDir = join(dir, "ledger");
    mkdirSync(this.ledgerDir, { recursive: true });
    this.#ledger = new LedgerReader(this.ledgerDir);
    target.producer.declareQueue(queue);
  }

  /** Starts the `dramats` command on this scenario's queue. */
  startFleet(env: Record<string, string> = {}): Fleet {
    const fleet = new Fleet(
      this.settings,
      { ...this.target.appEnv(this.queue), [APP_ENV.ledger]: this.ledgerDir, ...this.extraEnv, ...env },
      join(this.dir, `dramats-${++this.#logs}.log`),
    );
    this.#fleets.push(fleet);
    return fleet;
  }

  message(actorName: string, args: unknown[]): Message {
    return new Message({ queueName: this.queue, actorName, args });
  }

  /** Sends `count` work messages `<prefix>-<i>` in bulk; returns their ids. */
  async sendWork(count: number, prefix = "m", delay = 0): Promise<string[]> {
    const ids: string[] = [];
    for (let from = 0; from < count; from += 500) {
      const batch: Message[] = [];
      for (let i = from; i < Math.min(count, from + 500); i++) {
        ids.push(`${prefix}-${i}`);
        batch.push(this.message("chaos_work", [`${prefix}-${i}`, workMs(i)]));
      }
      await this.target.producer.enqueueMany(batch, { delay });
    }
    return ids;
  }

  /** Reads what the ledger gained since the last call. */
  poll(): void {
    this.tally.add(this.#ledger.poll());
  }

  /**
   * The queue's depths as the suite's own broker reads them. A connection fault of a scenario
   * may reach that broker too (a RabbitMQ vhost's connections are all closed): a look that fails
   * with a connection error is tried again once the broker reconnected, within a few seconds.
   */
  async depths(): Promise<QueueDepths> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.target.producer.depths(this.queue);
      } catch (error) {
        if (!(error instanceof BrokerError) || attempt >= DEPTHS_ATTEMPTS) throw error;
        await sleep(POLL * attempt);
      }
    }
  }

  /** Polls until `check` holds or `timeout` ms passed; returns whether it held. */
  async until(check: () => boolean | Promise<boolean>, timeout: number): Promise<boolean> {
    const deadline = Date.now() + timeout;
    for (;;) {
      this.poll();
      if (await check()) return true;
      if (Date.now() > deadline) return false;
      await sleep(POLL);
    }
  }

  /** Waits for `expected` to have run, and the queue to be empty, within the profile's deadline. */
  drain(expected: readonly string[], settled: (d: QueueDepths) => boolean = quiet): Drain {
    let done = false;
    let timedOut = false;
    const finished = (async () => {
      let seen = -1;
      let progressAt = Date.now();
      const ok = await this.until(async () => {
        const events = this.tally.starts.length + this.tally.ends.length;
        if (events !== seen) [seen, progressAt] = [events, Date.now()];
        const depths = await this.depths();
        if (this.tally.processed(expected) === expected.length && settled(depths)) return true;
        // Nothing left to deliver and nothing ran for a while: what is missing is lost, not late.
        return quiet(depths) && Date.now() - progressAt > IDLE_GIVE_UP;
      }, this.profile.deadline);
      // Late duplicates (acks lost with a killed connection) land right after the queue empties.
      await sleep(4 * POLL);
      this.poll();
      timedOut = !ok;
      done = true;
    })();
    return {
      finished,
      done: () => done,
      timedOut: () => timedOut,
      drainMs: () => {
        // From the first run, not the command's start: booting tsx and the app takes seconds here.
        let since = Infinity;
        for (const e of this.tally.starts) since = Math.min(since, e.at);
        let last = 0;
        for (const id of expected) {
          const at = this.tally.firstFinish.get(id);
          if (at === undefined) return undefined;
          last = Math.max(last, at);
        }
        return last - since;
      },
    };
  }

  /** Runs `fault` every `every` ms until the drain is done or `max` faults happened; returns how many did. */
  async faultLoop(drain: Drain, every: number, max: number, fault: () => Promise<boolean>): Promise<number> {
    let faults = 0;
    while (faults < max) {
      // The first fault comes soon after the first run, so even a short profile's quick drain is hit.
      await Promise.race([sleep(faults === 0 ? Math.min(every, FIRST_FAULT_AFTER) : every), drain.finished]);
      if (drain.done()) break;
      if (await fault()) faults++;
    }
    return faults;
  }

  /** Stops every fleet this scenario started: SIGTERM, then SIGKILL for whatever is left. */
  async stopFleets(): Promise<void> {
    for (const fleet of this.#fleets) {
      if (fleet.exit === undefined) {
        fleet.signal("SIGTERM");
        await fleet.exited(this.settings.grace + 5_000);
      }
      fleet.destroy();
    }
  }
}

/** Nothing ready, delayed or held. */
export const quiet = (d: QueueDepths): boolean => d.ready + d.delayed + d.inFlight === 0;
