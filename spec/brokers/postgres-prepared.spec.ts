// Named prepared statements (PostgresBrokerOptions.preparedStatements): on by default for the
// broker's frequent statements, on its own pool and on an application's pg client inside
// withTransaction; off (for poolers that drop them) with the option or `?prepared_statements=false`.
// Each connection's pg_prepared_statements shows what was prepared on it.
import { expect } from "chai";
import type pg from "pg";
import { parsePostgresUrl, PostgresBroker, type PostgresBrokerOptions } from "../../brokers/postgres/index.ts";
import { statementName } from "../../brokers/postgres/queries.ts";
import { actor, InvalidOptions, Message } from "../../lib/index.ts";
import { adminClient, dropSchema, postgresUrl, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";

const QUEUE = "prepq";
const PREPARED = "SELECT name FROM pg_prepared_statements WHERE name LIKE 'dramats\\_%' ORDER BY name";

describe("PostgresBroker prepared statements", function () {
  this.timeout(20_000);
  let schema: string;
  const open: PostgresBroker[] = [];

  const newBroker = (options: Partial<PostgresBrokerOptions> = {}) => {
    // One connection: what the broker prepared is what that connection lists.
    const broker = new PostgresBroker({ url: postgresUrl(), schema, middleware: [], poolSize: 1, ...options });
    broker.declareQueue(QUEUE);
    open.push(broker);
    return broker;
  };
  const message = (n: number) => new Message({ queueName: QUEUE, actorName: "prep_noop", args: [n], options: {} });
  /** Sends, fetches and acks a message; returns the names prepared on the broker's one connection. */
  const roundTrip = async (broker: PostgresBroker): Promise<string[]> => {
    await broker.enqueue(message(1));
    await broker.enqueueMany([message(2), message(3)]);
    const consumer = broker.consume(QUEUE, { prefetch: 3 });
    const got = await consumer.fetch(3, 2_000);
    expect(got.map((d) => broker.decode(d.body).args[0])).to.have.members([1, 2, 3]);
    for (const d of got) await consumer.ack(d);
    await broker.join(QUEUE, { timeout: 5_000 });
    await consumer.close();
    const { rows } = await broker.pool.query<{ name: string }>(PREPARED);
    return rows.map((r) => r.name);
  };

  beforeEach(() => {
    schema = uniqueSchema("pgprep");
  });

  afterEach(async () => {
    for (const broker of open.splice(0)) await broker.close();
    await dropSchema(schema);
  });

  it("prepares its enqueue, fetch and ack statements once per connection by default", async () => {
    const broker = newBroker();
    expect(broker.settings.preparedStatements).to.equal(true);
    const names = await roundTrip(broker);
    // The single send, the multi-row send, the fetch and the ack at least; each by its text's name.
    expect(names.length).to.be.at.least(4);
    expect(new Set(names).size).to.equal(names.length);
    // A second round reuses them: nothing new is prepared.
    expect(await roundTrip(broker)).to.deep.equal(names);
  });

  it("prepares nothing with preparedStatements: false or ?prepared_statements=false, and works the same", async () => {
    expect(await roundTrip(newBroker({ preparedStatements: false }))).to.deep.equal([]);
    const fromUrl = new PostgresBroker({ url: `${urlWithSchema(schema)}&prepared_statements=false`, middleware: [], poolSize: 1 });
    fromUrl.declareQueue(QUEUE);
    open.push(fromUrl);
    expect(fromUrl.settings.preparedStatements).to.equal(false);
    expect(await roundTrip(fromUrl)).to.deep.equal([]);
  });

  it("names a statement after its text, so two schemas' statements on one connection never collide", () => {
    expect(statementName("SELECT 1")).to.equal(statementName("SELECT 1"));
    expect(statementName(`SELECT * FROM "a".messages`)).to.not.equal(statementName(`SELECT * FROM "b".messages`));
    expect(statementName("SELECT 1")).to.match(/^dramats_[0-9a-f]{24}$/);
  });

  it("refuses a prepared_statements URL value other than true or false, and a non-boolean option, with InvalidOptions", () => {
    expect(parsePostgresUrl("postgres://h/db?prepared_statements=true").preparedStatements).to.equal(true);
    expect(() => parsePostgresUrl("postgres://u:secret@h/db?prepared_statements=no")).to.throw(InvalidOptions, /prepared_statements must be true or false, got "no"/).and.not.match(/secret/);
    expect(() => new PostgresBroker({ url: postgresUrl(), preparedStatements: "yes" as unknown as boolean })).to.throw(InvalidOptions, /preparedStatements must be a boolean/);
  });

  describe("inside withTransaction", () => {
    let app: pg.Client;
    beforeEach(async () => {
      app = await adminClient();
    });
    afterEach(async () => {
      await app.end();
    });

    const sendInTransaction = async (broker: PostgresBroker) => {
      const send = actor(function prep_tx(_n: number): void {}, { broker, queueName: QUEUE });
      await broker.migrate();
      await app.query("BEGIN");
      await broker.withTransaction(app, () => send.send(7));
      await app.query("COMMIT");
      expect((await broker.depths(QUEUE)).ready).to.equal(1);
      const { rows } = await app.query<{ name: string }>(PREPARED);
      return rows.map((r) => r.name);
    };

    it("prepares the send on the application's pg client", async () => {
      expect(await sendInTransaction(newBroker())).to.have.length(1);
    });

    it("sends its text alone when preparedStatements is false", async () => {
      expect(await sendInTransaction(newBroker({ preparedStatements: false }))).to.deep.equal([]);
    });
  });
});
