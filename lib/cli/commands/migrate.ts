// `dramats migrate`: create or upgrade a PostgreSQL broker's schema ahead of a deploy.
import { CliError, ExitCode } from "../exit-codes.ts";
import { plural, type Output } from "./output.ts";
import type { Session } from "./session.ts";

export interface MigrateOptions {
  json: boolean;
}

/** What a broker with versioned migrations reports (the PostgresBroker's `migrate()`). */
interface MigrationReport {
  readonly schema: string;
  readonly from: number;
  readonly to: number;
  readonly applied: readonly { version: number; name: string }[];
}

interface Migrates {
  migrate(): Promise<MigrationReport>;
}

/**
 * Applies the migrations the broker's schema lacks (workers would apply them at first use; this
 * does it ahead of them), and prints what it applied. Other processes migrating at the same time
 * take turns with it. 
 * @throws CliError (2) for a broker without migrations (only postgres:// has them), or a schema
 * newer than this dramats (the message names both versions); (3) for an unreachable server
 */
export async function migrateCommand(session: Session, options: MigrateOptions, out: Output): Promise<number> {
  const broker = session.broker as Partial<Migrates> & typeof session.broker;
  if (typeof broker.migrate !== "function") {
    throw new CliError(`migrate: ${broker.constructor.name} has no schema to migrate (only postgres:// brokers do)`, ExitCode.IMPORT_ERROR);
  }
  let report: MigrationReport;
  try {
    report = await session.call("migrating the schema", () => broker.migrate!());
  } catch (error) {
    // The database is ahead of this dramats: a configuration that does not fit, as a queue mismatch is.
    if ((error as { code?: unknown }).code === "DRAMATS_ERR_SCHEMA_VERSION_TOO_NEW") throw new CliError(`migrate: ${(error as Error).message}`, ExitCode.IMPORT_ERROR, { cause: error });
    throw error;
  }
  if (options.json) {
    out.json(report);
  } else if (report.applied.length === 0) {
    out.line(`Schema ${report.schema} is at version ${report.to}: nothing to apply.`);
  } else {
    out.line(`Migrated schema ${report.schema} from version ${report.from} to ${report.to}, applying ${plural(report.applied.length, "migration")}:`);
    for (const m of report.applied) out.line(`  ${m.version}  ${m.name}`);
  }
  return ExitCode.OK;
}
