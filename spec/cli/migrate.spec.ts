import { expect } from "chai";
import { MIGRATIONS, SCHEMA_VERSION } from "../../brokers/postgres/index.ts";
import { adminQuery, dropSchema, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";
import { runOperator } from "./run-operator.ts";

describe("dramats migrate", function () {
  this.timeout(60_000);
  let schema: string;

  beforeEach(() => {
    schema = uniqueSchema("cli");
  });
  afterEach(() => dropSchema(schema));

  it("applies the migrations a PostgreSQL schema lacks, says which, and then that nothing is due", async () => {
    const url = urlWithSchema(schema);
    const first = await runOperator(["migrate", "--broker", url]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.include(`Migrated schema ${schema} from version 0 to ${SCHEMA_VERSION}`);
    for (const m of MIGRATIONS) expect(first.stdout).to.include(`${m.version}  ${m.name}`);
    const rows = await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".schema_migrations`);
    expect(Number(rows[0]!.n)).to.equal(MIGRATIONS.length);
    const again = await runOperator(["migrate", "--broker", url, "--json"]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.json()).to.deep.equal({ schema, from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
  });

  it("exits 2 naming both versions for a schema newer than this dramats", async () => {
    const url = urlWithSchema(schema);
    expect((await runOperator(["migrate", "--broker", url])).code).to.equal(0);
    await adminQuery(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, 'later')`, [SCHEMA_VERSION + 1]);
    const run = await runOperator(["migrate", "--broker", url]);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.include(`version ${SCHEMA_VERSION + 1}`).and.include(`up to ${SCHEMA_VERSION}`);
    // Workers refuse to boot on it the same way: exit 2, not "unreachable" (3), which a restart would retry.
    const worker = await runOperator(["spec/fixtures/cli-plain-actors.ts", "--broker", url, "--processes", "1", "--no-metrics"]);
    expect(worker.code).to.equal(2);
    expect(worker.stderr).to.include(`version ${SCHEMA_VERSION + 1}`);
  });

  it("exits 3 with the URL masked when the server cannot be reached", async () => {
    const run = await runOperator(["migrate", "--broker", "postgres://postgres:pw-secret-31337@127.0.0.1:1/test", "--timeout", "5000"]);
    expect(run.code).to.equal(3);
    expect(run.stderr).to.include("postgres://postgres:***@127.0.0.1:1/test").and.not.include("pw-secret-31337");
  });

  it("exits 2 for a broker without a schema", async () => {
    const run = await runOperator(["migrate", "--broker", "memory://"]);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.include("only postgres:// brokers");
  });
});
