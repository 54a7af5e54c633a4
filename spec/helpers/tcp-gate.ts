/**
 * A TCP forwarder whose new connections a spec can hold back: while `hold()` is in force a
 * client connecting is accepted but not joined to the server until `release()`. Connections
 * already made pass through untouched. Lets a spec keep a client that reconnects by itself
 * (a LISTEN session) away from the server for as long as it needs.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export class TcpGate {
  /** The local port to connect to instead of the server's. */
  readonly port: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #waiting: Socket[] = [];
  #held = false;
  readonly #target: { host: string; port: number };

  private constructor(server: Server, port: number, target: { host: string; port: number }) {
    this.#server = server;
    this.port = port;
    this.#target = target;
  }

  /** Listens on a free loopback port, forwarding to `host:port`. */
  static async start(host: string, port: number): Promise<TcpGate> {
    let gate!: TcpGate;
    const server = createServer((client) => gate.#accept(client));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    gate = new TcpGate(server, (server.address() as { port: number }).port, { host, port });
    return gate;
  }

  /** How many connections wait at the gate. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Holds new connections back until `release()`. */
  hold(): void {
    this.#held = true;
  }

  /** Lets every waiting connection and every later one through. */
  release(): void {
    this.#held = false;
    for (const client of this.#waiting.splice(0)) this.#join(client);
  }

  #accept(client: Socket): void {
    this.#track(client);
    client.pause();
    if (this.#held) this.#waiting.push(client);
    else this.#join(client);
  }

  #join(client: Socket): void {
    if (client.destroyed) return;
    const server = createConnection(this.#target);
    this.#track(server);
    client.pipe(server).pipe(client);
    client.resume();
    const end = () => {
      client.destroy();
      server.destroy();
    };
    client.on("close", end);
    server.on("close", end);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => this.#sockets.delete(socket));
  }

  /** Drops every connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
