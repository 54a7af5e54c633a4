// `npm run chaos -- [--profile short|full] [--broker redis,rabbitmq,sqlite] [--scenario a,b] [--keep]`
// Runs the fault scenarios against real brokers and the real `dramats` command, prints one
// Markdown table per broker, and exits 1 when a message was lost or a bound exceeded.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Context } from "./context.ts";
import { FLEET, PROFILES } from "./profiles.ts";
import { renderTables, type Row } from "./report.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import { BROKERS, newRunId, openTarget, type BrokerName } from "./targets.ts";
import { APP_ENV } from "./app-env.ts";
import { configureLogging } from "../lib/logging.ts";

const USAGE = `usage: npm run chaos -- [--profile tiny|short|full] [--broker ${BROKERS.join(",")}] [--scenario ${Object.keys(SCENARIOS).join(",")}] [--break] [--keep]`;

function options() {
  const { values } = parseArgs({
    options: {
      profile: { type: "string", default: "full" },
      broker: { type: "string", default: BROKERS.join(",") },
      scenario: { type: "string", default: Object.keys(SCENARIOS).join(",") },
      // Proves the suite can fail: the app leaves some finished runs out of the ledger.
      break: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const profile = PROFILES[values.profile ?? "full"];
  const brokers = (values.broker ?? "").split(",").filter(Boolean);
  const scenarios = (values.scenario ?? "").split(",").filter(Boolean);
  const bad = [
    ...(profile ? [] : [`profile ${values.profile}`]),
    ...brokers.filter((b) => !(BROKERS as readonly string[]).includes(b)).map((b) => `broker ${b}`),
    ...scenarios.filter((s) => !(s in SCENARIOS)).map((s) => `scenario ${s}`),
  ];
  if (bad.length > 0) {
    console.error(`Unknown ${bad.join(", ")}\n${USAGE}`);
    process.exit(2);
  }
  return { profile: profile!, brokers: brokers as BrokerName[], scenarios, broken: values.break === true, keep: values.keep === true };
}

async function main(): Promise<number> {
  const { profile, brokers, scenarios, broken, keep } = options();
  // The producer's reconnections under the faults are expected: only the tables speak.
  configureLogging({ level: "error" });
  const runId = newRunId();
  const root = mkdtempSync(join(tmpdir(), `dramats-chaos-${runId}-`));
  const started = Date.now();
  const rows: Row[] = [];
  const contexts: Context[] = [];
  let interrupted = false;
  process.once("SIGINT", () => {
    interrupted = true;
    console.error("Interrupted: stopping after this scenario and cleaning up");
  });
  console.error(`chaos run ${runId}: profile ${profile.name}, ${brokers.join(", ")}; work in ${root}`);
  try {
    for (const name of brokers) {
      if (interrupted) break;
      const dir = join(root, name);
      const target = await openTarget(name, runId, mkdtempSync(join(root, `${name}-`)));
      try {
        for (const scenario of scenarios) {
          if (interrupted) break;
          const spec = SCENARIOS[scenario]!;
          if (spec.needs === "connections" && target.killConnections === undefined) continue;
          if (spec.needs === "restart" && target.restartServer === undefined) continue;
          const queue = `chaos_${runId}_${scenario.replace(/-/g, "_")}`;
          const ctx = new Context(target, queue, mkdtempSync(`${dir}-${scenario}-`), FLEET, profile, broken ? { [APP_ENV.break]: "drop" } : {});
          contexts.push(ctx);
          const t0 = Date.now();
          try {
            const result = await spec.run(ctx);
            rows.push(result);
            console.error(`  ${name} / ${scenario}: ${result.failures.length === 0 ? "ok" : result.failures.join("; ")} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
          } catch (error) {
            rows.push(crashed(name, scenario, error));
            console.error(`  ${name} / ${scenario}: crashed: ${(error as Error).stack}`);
          } finally {
            await ctx.stopFleets();
          }
        }
      } finally {
        await target.close().catch((error: unknown) => console.error(`Cleaning up ${name} failed: ${(error as Error).message}`));
      }
    }
  } finally {
    for (const ctx of contexts) await ctx.stopFleets();
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
  console.log(`## Chaos: profile ${profile.name}, ${FLEET.processes} processes × ${FLEET.threads} threads, run ${runId}\n`);
  console.log(renderTables(rows));
  console.log(`Total time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  return rows.some((r) => r.failures.length > 0) || interrupted ? 1 : 0;
}

function crashed(broker: string, scenario: string, error: unknown): Row {
  const message = (error as Error)?.message ?? String(error);
  return { broker, scenario, sent: 0, processed: 0, lost: 0, duplicated: 0, bound: 0, faults: 0, drainMs: undefined, recoveryMs: undefined, notes: [], failures: [`crashed: ${message}`] };
}

process.exitCode = await main();
