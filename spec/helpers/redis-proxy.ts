/**
 * A TCP proxy in front of Redis that records the commands passing through it. Connect the
 * clients under test through `url` and `commands` holds exactly what they sent: unlike
 * MONITOR or INFO commandstats it sees nothing of the other processes sharing the server,
 * needs no admin rights and holds no connection in a special mode.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface ProxiedCommand {
  /** The proxied connection it came on, numbered from 1 in order of connection. */
  readonly connection: number;
  /** The command and its arguments, e.g. `["EVALSHA", sha, "4", key, ...]` (names as sent). */
  readonly args: readonly string[];
}

export class RedisProxy {
  /** The target URL with this proxy's address instead of the server's (credentials and database kept). */
  readonly url: string;
  readonly commands: ProxiedCommand[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Client sockets of the live proxied connections. */
  readonly #clients = new Set<Socket>();

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  /**
   * Listens on a free loopback port and forwards every connection to `target` (a redis:// URL).
   * `rewrite` may change a command on its way (it is recorded as the client sent it).
   */
  static async start(target: string, rewrite?: (args: readonly string[]) => readonly string[]): Promise<RedisProxy> {
    const upstream = new URL(target);
    if (upstream.protocol !== "redis:") throw new Error(`RedisProxy reads plain redis:// traffic, not ${upstream.protocol}`);
    let proxy!: RedisProxy;
    let connections = 0;
    const server = createServer((client) => {
      const connection = ++connections;
      const redis = createConnection({ host: upstream.hostname, port: Number(upstream.port || 6379) });
      for (const socket of [client, redis]) {
        proxy.#sockets.add(socket);
        socket.on("close", () => proxy.#sockets.delete(socket));
        // A reset on one side ends the other; the clients under test see it as a lost connection.
        socket.on("error", () => undefined);
      }
      proxy.#clients.add(client);
      client.on("close", () => {
        proxy.#clients.delete(client);
        redis.destroy();
      });
      redis.on("close", () => client.destroy());
      client.on(
        "data",
        commandParser(
          (args, raw) => {
            proxy.commands.push({ connection, args });
            const sent = rewrite?.(args) ?? args;
            redis.write(sent === args ? raw : encodeCommand(sent));
          },
          (raw, problem) => {
            proxy.commands.push({ connection, args: ["<unparsable>", problem] });
            redis.write(raw);
          },
        ),
      );
      redis.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("RedisProxy: no port");
    const url = new URL(target);
    url.hostname = "127.0.0.1";
    url.port = String(address.port);
    proxy = new RedisProxy(server, url.href);
    return proxy;
  }

  /** Commands sent since `mark` (an earlier `commands.length`). */
  since(mark: number): ProxiedCommand[] {
    return this.commands.slice(mark);
  }

  /** How many proxied connections are open now. */
  get connections(): number {
    return this.#clients.size;
  }

  /**
   * Cuts every live connection, as a network failure or CLIENT KILL would (clients see it
   * closed and reconnect, through the proxy again). Returns how many were cut.
   */
  dropConnections(): number {
    const cut = this.#clients.size;
    for (const client of [...this.#clients]) client.destroy();
    return cut;
  }

  /** Drops every proxied connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * Reads the RESP arrays of bulk strings a client sends (every command ioredis writes) from a
 * byte stream cut anywhere, calling `onCommand` for each complete one.
 */
function commandParser(
  onCommand: (args: string[], raw: Uint8Array) => void,
  onUnparsed: (raw: Uint8Array, problem: string) => void,
): (chunk: Buffer) => void {
  let buffer = Buffer.alloc(0);
  let lost = false;
  return (chunk) => {
    if (lost) return onUnparsed(chunk as unknown as Uint8Array, "after an unparsable command");
    // (@types/node 20.9 and TypeScript 6 disagree on whether a Buffer is a Uint8Array.)
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk] as unknown as Uint8Array[]);
    for (;;) {
      let parsed: ReturnType<typeof parseCommand>;
      try {
        parsed = parseCommand(buffer);
      } catch (error) {
        // Not thrown from a socket handler (that would end the whole mocha run): recorded instead.
        lost = true;
        onUnparsed(buffer as unknown as Uint8Array, (error as Error).message);
        return;
      }
      if (parsed === undefined) return;
      const raw = buffer.subarray(0, parsed.end);
      buffer = buffer.subarray(parsed.end);
      onCommand(parsed.args, raw as unknown as Uint8Array);
    }
  };
}

function parseCommand(buffer: Buffer): { args: string[]; end: number } | undefined {
  const header = readLine(buffer, 0);
  if (header === undefined) return undefined;
  if (!header.text.startsWith("*")) throw new Error(`RedisProxy: expected a RESP array, got ${JSON.stringify(header.text)}`);
  const count = Number(header.text.slice(1));
  const args: string[] = [];
  let at = header.next;
  for (let i = 0; i < count; i++) {
    const length = readLine(buffer, at);
    if (length === undefined) return undefined;
    const size = Number(length.text.slice(1));
    if (buffer.length < length.next + size + 2) return undefined;
    args.push(buffer.toString("utf8", length.next, length.next + size));
    at = length.next + size + 2;
  }
  return { args, end: at };
}

function readLine(buffer: Buffer, from: number): { text: string; next: number } | undefined {
  const end = buffer.indexOf("\r\n", from);
  return end < 0 ? undefined : { text: buffer.toString("latin1", from, end), next: end + 2 };
}

function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`;
}

/**
 * A `rewrite` for `RedisProxy.start` that logs in with `target`'s own credentials whenever a
 * client sends `user` and `password`, so a spec can give out a URL with credentials of its own
 * without creating a server user (ACL SETUSER is an admin command). Other credentials pass
 * unchanged, and the server refuses them as it would.
 */
export function acceptCredentials(target: string, user: string, password: string): (args: readonly string[]) => readonly string[] {
  const server = new URL(target);
  // With no password configured, the default user accepts any.
  const own = [decodeURIComponent(server.username) || "default", decodeURIComponent(server.password) || "any"];
  return (args) => {
    const at = credentialsAt(args);
    if (at < 0 || args[at] !== user || args[at + 1] !== password) return args;
    return [...args.slice(0, at), ...own, ...args.slice(at + 2)];
  };
}

/** Where a command carries a user name and password (`AUTH user pass`, or `HELLO 3 AUTH user pass` as ioredis 6 logs in); -1 if it does not. */
export function credentialsAt(args: readonly string[]): number {
  const name = args[0]?.toUpperCase();
  if (name === "AUTH") return args.length === 3 ? 1 : -1;
  if (name !== "HELLO") return -1;
  const at = args.findIndex((arg) => arg.toUpperCase() === "AUTH");
  return at < 0 ? -1 : at + 1;
}
