/**
 * How long a finished message may wait for its ack to be written to the broker: the bound on
 * what a crash makes run twice. Every broker consumer that batches acks (Redis, SQLite,
 * RabbitMQ) follows these rules; the stub acks in memory, at once.
 *
 * - Count: once ACK_FLUSH_COUNT acks are pending, they are written at once, in the middle of
 *   whatever the worker is doing. A worker may run a whole prefetch window (up to 1,024) of quick
 *   messages without yielding; without this bound the acks of all of them would wait.
 * - Time: otherwise the pending acks are written at the end of the current turn of the event loop
 *   (setImmediate), or earlier by a fetch of the same turn that carries them. No timer: a timer
 *   cannot fire before the turn ends either, and the worker yields at least every 10 ms of
 *   back-to-back messages (SLICE_MS in lib/worker.ts).
 *
 * So a process that dies reruns at most, per consumer, the messages it was running plus
 * ACK_FLUSH_COUNT - 1 finished ones whose acks were not yet written (and any ack batch already
 * on its way over the connection when it died). Measured with `npm run bench -- ab`: 256 costs
 * no throughput against writing a whole window's acks at once.
 */
export const ACK_FLUSH_COUNT = 256;
