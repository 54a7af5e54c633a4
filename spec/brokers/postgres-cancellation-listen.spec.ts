// The LISTEN session of PostgresCancellationBackend when the server drops it
// (pg_terminate_backend): it connects again by itself, hears the cancellations made while it was
// away (re-read past the last sequence it saw) and every later one, each once.
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { PostgresCancellationBackend } from "../../brokers/postgres/backends.ts";
import { configureLogging } from "../../lib/index.ts";
import { waitFor } from "../fixtures/sqlite-files.ts";
import { TcpGate } from "../helpers/tcp-gate.ts";
import { adminQuery, dropSchema, postgresUrl, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";

/** Ends every connection whose application_name is `name`; how many there were. */
async function terminate(name: string): Promise<number> {
  const rows = await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", [name]);
  return rows.length;
}

describe("PostgresCancellationBackend's LISTEN session", function () {
  this.timeout(20_000);
  let schema: string;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(() => {
    schema = uniqueSchema("listen");
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await dropSchema(schema);
  });

  it("after pg_terminate_backend, hears what was cancelled while it was away, then every later cancellation, each once", async () => {
    const name = `dramats_listen_${randomUUID().slice(0, 8)}`;
    // The listening instance's LISTEN session connects through a gate the spec can hold shut, so
    // the cancellations below are made while the session is certainly away.
    const pool = new pg.Pool({ connectionString: postgresUrl(), application_name: name, max: 3 });
    pool.on("error", () => {});
    closers.push(() => pool.end());
    const server = new URL(postgresUrl());
    const gate = await TcpGate.start(server.hostname, Number(server.port || 5432));
    closers.push(() => gate.close());
    const through = new URL(postgresUrl());
    through.host = `127.0.0.1:${gate.port}`;
    through.searchParams.set("application_name", name);
    const listenConfig = { connectionString: through.href };
    const listening = new PostgresCancellationBackend({ pool, schema, listenConfig });
    const other = new PostgresCancellationBackend({ url: urlWithSchema(schema) });
    closers.push(() => other.close(), () => listening.close());
    const heard: string[] = [];
    await listening.subscribe((id) => heard.push(id));
    const before = randomUUID();
    await other.cancel(before, 60_000);
    await waitFor(() => heard.includes(before), 5_000, "the first cancellation");

    gate.hold();
    expect(await terminate(name), "the LISTEN session (and idle pool connections) terminated").to.be.at.least(1);
    await waitFor(() => !listening.listening, 5_000, "the session to notice the drop");
    const away = [randomUUID(), randomUUID()];
    for (const id of away) await other.cancel(id, 60_000);
    // Cancelled again while away: heard again (a new sequence number).
    await other.cancel(before, 60_000);
    await waitFor(() => gate.waiting > 0, 5_000, "the session to try to reconnect");
    expect(heard, "nothing heard while disconnected").to.deep.equal([before]);
    gate.release();
    await waitFor(() => listening.listening, 10_000, "the session to reconnect");
    await waitFor(() => heard.length >= 4, 5_000, "the cancellations made while away");
    expect(heard).to.deep.equal([before, ...away, before]);

    const after = randomUUID();
    await other.cancel(after, 60_000);
    await waitFor(() => heard.includes(after), 5_000, "a cancellation made after the reconnection");
    // Several drops in a row, without holding connections back: it keeps coming back.
    for (let i = 0; i < 3; i++) {
      await terminate(name);
      await waitFor(() => listening.listening, 10_000, `the session to reconnect after drop ${i + 1}`);
    }
    const last = randomUUID();
    await other.cancel(last, 60_000);
    await waitFor(() => heard.includes(last), 5_000, "a cancellation after several drops");
    // A round trip on a fresh subscription: any duplicate would have arrived by now.
    const witness: string[] = [];
    await listening.subscribe((id) => witness.push(id));
    expect(heard.filter((id) => id === after)).to.have.length(1);
    expect(heard.filter((id) => id === last)).to.have.length(1);
    expect(heard).to.have.length(6);
  });

  it("reconnects a session opened from a URL too, and warns of the drop without the URL's password", async () => {
    const name = `dramats_listen_${randomUUID().slice(0, 8)}`;
    // The local server trusts 127.0.0.1: the password is sent nowhere, but must be masked in logs.
    const password = `pg-pw-${randomUUID()}`;
    const withPassword = new URL(urlWithSchema(schema));
    withPassword.password = password;
    withPassword.searchParams.set("application_name", name);
    const lines: string[] = [];
    configureLogging({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    closers.push(async () => void configureLogging());
    const listening = new PostgresCancellationBackend({ url: withPassword.href });
    const other = new PostgresCancellationBackend({ url: urlWithSchema(schema) });
    closers.push(() => other.close(), () => listening.close());
    const heard: string[] = [];
    const stop = await listening.subscribe((id) => heard.push(id));
    expect(await terminate(name)).to.be.at.least(1);
    const id = randomUUID();
    await other.cancel(id, 60_000);
    await waitFor(() => heard.includes(id), 10_000, "the cancellation, after the reconnection");
    expect(listening.listening).to.equal(true);
    const warnings = lines.filter((line) => line.includes("LISTEN session lost"));
    expect(warnings, "one warning per drop").to.have.length.at.least(1);
    for (const line of warnings) expect(line).to.include("127.0.0.1").and.not.include(password);
    await stop();
    expect(listening.listening, "the last subscription ended: the session too").to.equal(false);
  });
});
