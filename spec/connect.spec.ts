// connect() and brokerFromUrl(): the one place a URL becomes a broker, for the CLI and app code.
import { expect } from "chai";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RedisBroker } from "../brokers/redis/index.ts";
import type { SqliteBroker } from "../brokers/sqlite/index.ts";
import {
  actor,
  brokerFromUrl,
  brokerOrigin,
  connect,
  DEFAULT_BROKER_URL,
  defaultMiddleware,
  getBroker,
  InvalidOptions,
  redactUrl,
  Results,
  StubResultBackend,
  type Broker,
} from "../lib/index.ts";
import { redact } from "../lib/redact.ts";
import { amqpUrl } from "./helpers/amqp.ts";
import { redisUrl } from "./helpers/redis.ts";

// Adapters load through import() (ESM) while mocha loads specs as CommonJS: the classes are
// other instances than a static import's, so brokers are told apart by class name here.
describe("connect and brokerFromUrl", () => {
  let dir: string;
  const opened: Broker[] = [];
  const open = <B extends Broker>(broker: B): B => (opened.push(broker), broker);

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), "dramats-connect-")));
  });
  afterEach(async () => {
    for (const broker of opened.splice(0)) await broker.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it("builds the broker each scheme names", async () => {
    const memory = open(await brokerFromUrl("memory://"));
    expect(memory.constructor.name).to.equal("StubBroker");
    const sqlite = open(await brokerFromUrl(`sqlite://${dir}/jobs.sqlite`));
    expect(sqlite.constructor.name).to.equal("SqliteBroker");
    expect((sqlite as SqliteBroker).settings.path).to.equal(join(dir, "jobs.sqlite"));
    const redisAt = new URL(await redisUrl());
    redisAt.searchParams.set("namespace", "connect-spec");
    const redis = open(await brokerFromUrl(redisAt.href));
    expect(redis.constructor.name).to.equal("RedisBroker");
    expect((redis as RedisBroker).keys.prefix).to.equal("connect-spec:");
    const rabbit = open(await brokerFromUrl(await amqpUrl()));
    expect(rabbit.constructor.name).to.equal("RabbitmqBroker");
    expect(brokerOrigin(memory)).to.deep.equal({ url: "memory://", source: "argument" });
  });

  it("builds a Redis broker in Dramatiq's layout unless the URL asks for the fast path (?delays=zset&priorities=levels)", async () => {
    const redisAt = new URL(await redisUrl());
    redisAt.searchParams.set("namespace", "connect-spec");
    const shared = open(await brokerFromUrl(redisAt.href)) as RedisBroker;
    expect(shared).to.include({ delays: "dramatiq", priorities: "dramatiq" });
    redisAt.searchParams.set("delays", "zset");
    redisAt.searchParams.set("priorities", "levels");
    const fast = open(await brokerFromUrl(redisAt.href)) as RedisBroker;
    expect(fast).to.include({ delays: "zset", priorities: "levels" });
    redisAt.searchParams.set("delays", "sorted");
    const error = await brokerFromUrl(redisAt.href).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(InvalidOptions);
    expect((error as Error).message).to.match(/\?delays=\) must be "dramatiq" or "zset", got "sorted"/);
  });

  it("passes options such as the middleware chain to the broker", async () => {
    const results = new Results({ backend: new StubResultBackend() });
    const broker = open(await brokerFromUrl("memory://", { middleware: [...defaultMiddleware(), results] }));
    expect(broker.middleware).to.include(results);
    expect(broker.actorOptions.has("storeResults")).to.equal(true);
  });

  it("refuses an unknown scheme or a URL that does not parse, without printing its password", async () => {
    let error: unknown;
    try {
      await brokerFromUrl("kafka://x");
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(InvalidOptions).with.property("message").that.matches(/^Unsupported broker URL scheme kafka: \(supported: redis:\/\/ .* memory:\/\/\)$/);
    error = undefined;
    try {
      await brokerFromUrl("redis://user:hunter22@[bad");
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(InvalidOptions);
    expect((error as Error).message).not.to.include("hunter22");
  });

  it("connect() uses DRAMATS_BROKER, else sqlite://./dramats.sqlite in the working directory, and sets the global broker", async () => {
    const saved = { cwd: process.cwd(), env: process.env.DRAMATS_BROKER };
    try {
      process.chdir(dir);
      delete process.env.DRAMATS_BROKER;
      const embedded = open(await connect());
      expect(embedded.constructor.name).to.equal("SqliteBroker");
      expect((embedded as SqliteBroker).settings.path).to.equal(join(dir, "dramats.sqlite"));
      expect(getBroker()).to.equal(embedded);
      expect(brokerOrigin(embedded)).to.deep.equal({ url: DEFAULT_BROKER_URL, source: "default" });

      process.env.DRAMATS_BROKER = "memory://from-env";
      const fromEnv = open(await connect());
      expect(fromEnv.constructor.name).to.equal("StubBroker");
      expect(brokerOrigin(fromEnv)).to.deep.equal({ url: "memory://from-env", source: "DRAMATS_BROKER" });
      // Actors that follow the global broker move to it.
      const ping = actor(function connectSpecPing() {}, { queueName: "connect-spec" });
      expect(fromEnv.actors.get("connectSpecPing")).to.equal(ping);

      const given = open(await connect("memory://given"));
      expect(brokerOrigin(given)?.source).to.equal("argument");
    } finally {
      process.chdir(saved.cwd);
      if (saved.env === undefined) delete process.env.DRAMATS_BROKER;
      else process.env.DRAMATS_BROKER = saved.env;
    }
  });

  it("masks the password of every URL it opened, wherever it shows up in log text", async () => {
    open(await brokerFromUrl("memory://someone:s3cret-Pa55@host"));
    expect(redactUrl("redis://u:s3cret-Pa55@h:6379/0")).to.equal("redis://u:***@h:6379/0");
    expect(redact('{"args":["HELLO","3","AUTH","u","s3cret-Pa55"]}')).to.equal('{"args":["HELLO","3","AUTH","u","***"]}');
    // Any URL's password, registered or not.
    expect(redact("failed: amqp://guest:other-pass@rabbit:5672/ down")).to.equal("failed: amqp://guest:***@rabbit:5672/ down");
    expect(redact("nothing to hide")).to.equal("nothing to hide");
  });
});
