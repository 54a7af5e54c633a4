#!/usr/bin/env node
// The `dramats` command. The same file runs as the supervisor (cluster primary) and, forked
// by it, as each worker process. Each role imports only its own code: a worker process never
// loads the supervisor, the operator commands or their dependencies (memory per process).
import cluster from "node:cluster";
import { redact } from "../redact.ts";
import type { CliOptions } from "./args.ts";
import { helpArguments, isOperatorCommand } from "./commands/names.ts";
import { CliError } from "./exit-codes.ts";
import { WORKER_ENV } from "./ipc.ts";
import { runFromSourceCheckout } from "./source-checkout.ts";
import { version } from "./version.ts";

/** The command line's options: parsed (supervisor), or as the supervisor parsed them (worker process). */
async function cliOptions(): Promise<CliOptions> {
  const parsed = cluster.isPrimary ? undefined : process.env[WORKER_ENV.options];
  if (parsed !== undefined) return JSON.parse(parsed) as CliOptions;
  const { parseArgs } = await import("./args.ts");
  return parseArgs(helpArguments(process.argv.slice(2)), version());
}

async function main(): Promise<void> {
  let code: number;
  try {
    const args = helpArguments(process.argv.slice(2));
    if (isOperatorCommand(args[0])) {
      // `dramats queues`, `requeue`...: one process, no workers (lib/cli/commands/).
      const { runOperatorCommand } = await import("./commands/index.ts");
      code = await runOperatorCommand(args, version());
    } else {
      const options = await cliOptions();
      if (cluster.isPrimary) {
        const { runSupervisor } = await import("./supervise.ts");
        code = await runSupervisor(options);
      } else {
        const { runWorkerProcess } = await import("./worker-process.ts");
        await runWorkerProcess(options, Number(process.env[WORKER_ENV.index] ?? 0));
        return;
      }
    }
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    if (error.message) process.stderr.write(`dramats: ${redact(error.message)}\n`);
    code = error.exitCode;
  }
  process.exit(code);
}

if (!(await runFromSourceCheckout(import.meta.url))) await main();
