import amqp, { type ChannelModel, type Options } from "amqplib";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";

/** Node publishes every TCP client socket it creates in `net.connect` on this channel. */
const NET_CLIENT_SOCKET = "net.client.socket";

/**
 * Connects with amqplib and returns the TCP socket it opened, as Node's `net.client.socket`
 * diagnostics channel shows it: amqplib creates the socket synchronously inside `connect`, so
 * the first socket published while `connect` runs is its own. No socket for `amqps://`
 * (`tls.connect` publishes none); batching is then off and everything else works as usual.
 */
export async function connectWithSocket(url: string, options: Options.Connect): Promise<{ model: ChannelModel; socket: Socket | undefined }> {
  let socket: Socket | undefined;
  const seen = (message: unknown): void => {
    socket ??= (message as { socket: Socket }).socket;
  };
  subscribe(NET_CLIENT_SOCKET, seen);
  let connecting: Promise<ChannelModel>;
  try {
    connecting = amqp.connect(url, options);
  } finally {
    unsubscribe(NET_CLIENT_SOCKET, seen);
  }
  return { model: await connecting, socket };
}

/**
 * Gathers the frames amqplib writes to a connection's socket in one turn of the event loop into
 * one socket write (`writev`), instead of one write, and one syscall, per frame.
 *
 * amqplib queues each publish or ack as frames on its channel, and its multiplexer copies them
 * to the socket on `setImmediate`, one `write` at a time: about a third of a producer's CPU when
 * a thousand publishes are written at once. `batch()`, called just after handing amqplib a
 * frame, corks the socket until the multiplexer's pass is over: the uncork is scheduled from a
 * `process.nextTick`, behind the `readable` event that schedules the multiplexer, so it runs
 * right after the pass in the same check phase. A pass that stopped at the socket's high-water
 * mark resumes on `drain`; that pass is corked by listeners around the multiplexer's own.
 * Only public Node APIs are used: if amqplib's scheduling changed, frames would simply go out
 * one write each again, in the same order and at the same moment.
 */
export class WriteBatcher {
  readonly #socket: Socket;
  #corked = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    // The multiplexer's drain listener was added when amqplib opened the connection.
    socket.prependListener("drain", () => socket.cork());
    socket.on("drain", () => socket.uncork());
  }

  /** Call right after handing amqplib frames to write: they go out with the rest of this turn's. */
  batch(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(this.#scheduleUncork);
  }

  readonly #scheduleUncork = (): void => {
    setImmediate(this.#uncork);
  };

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };
}
