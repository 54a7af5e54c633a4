import type { ChannelModel } from "amqplib";
import type { Readable, Writable } from "node:stream";

/** The parts of amqplib's (2.x) connection internals this relies on. */
interface Internals {
  stream?: { cork?: () => void; uncork?: () => void };
  muxer?: { _readIncoming?: () => void };
}

/**
 * Makes a connection write the frames queued by its channels in one socket write per burst
 * instead of one per frame.
 *
 * amqplib queues each publish (or ack) as a frame on its channel, and its multiplexer then
 * copies the queued frames to the socket one `write` at a time. While the kernel accepts them,
 * every frame costs a syscall: about a third of a producer's CPU when a thousand publishes are
 * written at once. Corking the socket while the multiplexer runs gathers them into one
 * `writev` per pass (a pass stops at the socket's high-water mark and resumes on `drain`). The
 * frames, their order and the moment they leave are unchanged: the pass ends with the uncork.
 *
 * Returns false, changing nothing, when the internals are not what it expects.
 */
export function batchSocketWrites(model: ChannelModel): boolean {
  const { stream, muxer } = (model as unknown as { connection?: Internals }).connection ?? {};
  const readIncoming = muxer?._readIncoming;
  if (stream?.cork === undefined || stream.uncork === undefined || muxer === undefined || typeof readIncoming !== "function") return false;
  const socket = stream as { cork(): void; uncork(): void };
  muxer._readIncoming = function (this: unknown): void {
    socket.cork();
    try {
      readIncoming.call(this);
    } finally {
      socket.uncork();
    }
  };
  return true;
}

interface ChannelInternals {
  ch?: number;
  connection?: { stream?: Writable; channels?: ({ buffer?: Readable } | undefined)[] };
}

/**
 * A function that writes the frames a channel queued so far to the socket at once (one
 * write), instead of when the multiplexer next runs (on `setImmediate`, once the caller
 * yields). A producer that publishes a thousand messages in one synchronous loop calls it
 * every few dozen publishes, so RabbitMQ starts storing the first ones while the rest are
 * still being encoded, rather than receiving them all after the loop. Frames keep their
 * order: the channel's queue is read in order, and the multiplexer reads the same queue.
 * Skips when the socket is already backed up (the multiplexer resumes on `drain`).
 *
 * Undefined when the internals are not what it expects (publishing works as before).
 */
export function channelFlusher(channel: object): (() => void) | undefined {
  const { ch, connection } = channel as ChannelInternals;
  const socket = connection?.stream;
  const queue = ch === undefined ? undefined : connection?.channels?.[ch]?.buffer;
  if (socket === undefined || queue === undefined || typeof queue.read !== "function" || typeof socket.cork !== "function") return undefined;
  return () => {
    if (socket.writableNeedDrain || queue.readableLength === 0) return;
    socket.cork();
    try {
      for (let frame = queue.read() as Buffer | null; frame !== null; frame = queue.read() as Buffer | null) socket.write(frame);
    } finally {
      socket.uncork();
    }
  };
}
