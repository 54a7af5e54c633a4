import amqp from "amqplib";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { rabbitmqQueueNames } from "../../brokers/rabbitmq/declarations.ts";
import { sleep } from "../../lib/sleep.ts";

const run = promisify(execFile);

let resolved: Promise<string> | undefined;

/**
 * The RabbitMQ URL integration specs use: `AMQP_URL` when set; otherwise a testcontainers
 * RabbitMQ when that package and a container runtime exist; otherwise a failure that says how
 * to point the specs at a server. Never a silent skip.
 */
export function amqpUrl(): Promise<string> {
  resolved ??= resolveUrl();
  return resolved;
}

async function resolveUrl(): Promise<string> {
  const fromEnv = process.env.AMQP_URL;
  if (fromEnv) return fromEnv;
  const moduleName = "@testcontainers/rabbitmq";
  let why: string;
  try {
    const { RabbitMQContainer } = (await import(moduleName)) as {
      RabbitMQContainer: new (image: string) => { start(): Promise<{ getAmqpUrl(): string }> };
    };
    const container = await new RabbitMQContainer("rabbitmq:3.13-management").start();
    return container.getAmqpUrl();
  } catch (error) {
    why = (error as Error).message;
  }
  throw new Error(
    `RabbitMQ specs need a server: set AMQP_URL (e.g. AMQP_URL=amqp://guest:guest@127.0.0.1:5672), ` +
      `or install @testcontainers/rabbitmq with a container runtime. (${why})`,
  );
}

/** A queue name no other spec run uses. */
export function uniqueQueue(prefix = "spec"): string {
  return `${prefix}_${randomUUID().slice(0, 8)}`;
}

/** Every RabbitMQ queue dramats creates for a canonical queue name. */
export function queueTopology(queueName: string): string[] {
  return rabbitmqQueueNames(queueName);
}

/** Deletes the queues (and their ladders) of the given canonical names. */
export async function deleteQueues(url: string, queueNames: Iterable<string>): Promise<void> {
  const connection = await amqp.connect(url);
  // An 'error' event without a listener would be thrown, ending the whole mocha run; calls fail on their own.
  connection.on("error", () => {});
  try {
    const channel = await connection.createChannel();
    const names = [...queueNames].flatMap(queueTopology);
    await Promise.all(names.map((name) => channel.deleteQueue(name)));
    await channel.close();
  } finally {
    await connection.close();
  }
}

/** Opens a raw amqplib connection and channel for a spec; `close` releases both. */
export async function rawChannel(url: string): Promise<{ channel: amqp.ConfirmChannel; close(): Promise<void> }> {
  const connection = await amqp.connect(url);
  connection.on("error", () => {});
  const channel = await connection.createConfirmChannel();
  channel.on("error", () => {});
  return {
    channel,
    close: async () => {
      await channel.close().catch(() => {});
      await connection.close().catch(() => {});
    },
  };
}

/** Polls `check` until it returns true. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeout = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * A vhost of its own for specs that close every connection (`rabbitmqctl close_all_connections`
 * scoped to it leaves other users of the server alone). Needs rabbitmqctl on this machine.
 * Returns the base URL pointed at that vhost.
 */
export async function isolatedVhost(name = "dramats_fault"): Promise<string> {
  const base = new URL(await amqpUrl());
  try {
    await rabbitmqctl("add_vhost", name);
    await rabbitmqctl("set_permissions", "-p", name, decodeURIComponent(base.username || "guest"), ".*", ".*", ".*");
  } catch (error) {
    throw new Error(`This spec needs rabbitmqctl for the server at AMQP_URL (run as root on the RabbitMQ host): ${(error as Error).message}`);
  }
  base.pathname = `/${encodeURIComponent(name)}`;
  return base.toString();
}

/** `rabbitmqctl close_all_connections --vhost <vhost>`: what an operator or a failover does. */
export async function closeAllConnections(vhost: string, reason = "test"): Promise<void> {
  await rabbitmqctl("close_all_connections", "--vhost", vhost, reason);
}

/** Runs `rabbitmqctl` on this machine (specs that manage users or vhosts need it). */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run("rabbitmqctl", args, { timeout: 30_000 });
  return stdout;
}
