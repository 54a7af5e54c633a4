// examples/postgres-transactions, as its README runs it (spec/readme/commands.ts): the block's
// `export DATABASE_URL=...` with the spec's own schema, setup, the four orders (Kysely and pg,
// committed and rolled back), a `dramats` worker, then the report once the worker ran the
// committed orders' jobs. The rolled-back orders' jobs must never run: the report is read after
// the queue is idle, and the worker's log is checked for them.
import { expect } from "chai";
import { dropSchema, uniqueSchema } from "../helpers/postgres.ts";
import { privateSchema, readmeLine, ROOT, sh, shStart, userEnv, type Running } from "../readme/commands.ts";
import { PostgresBroker } from "../../brokers/postgres/index.ts";
import { adminQuery, postgresUrl } from "../helpers/postgres.ts";

const README = "examples/postgres-transactions/README.md";

describe("examples/postgres-transactions (README commands)", function () {
  this.timeout(90_000);
  const schema = uniqueSchema("extx");
  let worker: Running | undefined;

  after(async () => {
    await worker?.stop("SIGINT");
    await dropSchema(schema);
    await dropSchema(`${schema}_shop`);
  });

  it("commits an order with its job, or rolls back both, with Kysely and with pg", async () => {
    const exports = privateSchema(readmeLine(README, "export DATABASE_URL="), schema);
    const env = userEnv();
    const run = async (line: string) => {
      const ran = await sh(`${exports}\n${line}`, ROOT, env);
      expect(ran.code, ran.stderr).to.equal(0);
      return ran.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    expect(await run(readmeLine(README, "app.ts setup"))).to.deep.include({ msg: "Ready", schema: `${schema}_shop` });
    expect(await run(readmeLine(README, "order ada@example.com"))).to.deep.include({ msg: "Order placed", id: 1, email: "ada@example.com" });
    expect(await run(readmeLine(README, "order bob@example.com --pg"))).to.deep.include({ msg: "Order placed", id: 2, email: "bob@example.com" });
    expect((await run(readmeLine(README, "order cyd@example.com --fail"))).find((l) => l.msg === "Order rolled back")).to.include({ email: "cyd@example.com" });
    expect((await run(readmeLine(README, "order dee@example.com --pg --fail"))).find((l) => l.msg === "Order rolled back")).to.include({ email: "dee@example.com" });
    // Only the committed orders' jobs exist: two rows, for orders 1 and 2.
    const rows = await adminQuery<{ body: string }>(`SELECT body FROM "${schema}".messages ORDER BY id`);
    expect(rows.map((r) => JSON.parse(r.body).args)).to.deep.equal([[1, "ada@example.com"], [2, "bob@example.com"]]);

    worker = shStart(`${exports}\n${readmeLine(README, "npx dramats examples/postgres-transactions/actors.ts")}`, ROOT, env);
    await worker.waitFor((l) => l.includes('"orderId":2'), 30_000);
    await worker.waitFor((l) => l.includes('"orderId":1'), 30_000);
    // The queue is idle (a join on a broker of the spec's own): nothing else is left to run.
    const broker = new PostgresBroker({ url: postgresUrl(), schema, middleware: [] });
    try {
      broker.declareQueue("receipts");
      await broker.join("receipts", { timeout: 10_000 });
    } finally {
      await broker.close();
    }
    expect(worker.lines.filter((l) => l.includes("Receipt sent"))).to.have.length(2);
    const [report] = await run(readmeLine(README, "app.ts report"));
    expect(report).to.deep.equal({
      orders: [{ id: 1, email: "ada@example.com" }, { id: 2, email: "bob@example.com" }],
      receipts: [{ order_id: 1, email: "ada@example.com" }, { order_id: 2, email: "bob@example.com" }],
    });
  });
});
