/**
 * How long a finished message may wait for its ack to be written to the broker: the bound on
 * what a crash makes run twice. The Redis and SQLite consumers follow these rules; the stub acks
 * in memory, at once. RabbitMQ does not: amqplib writes frames on a setImmediate of its own, so
 * acks handed to it mid-turn would not reach the socket sooner (see brokers/rabbitmq/README.md).
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
 * on its way over the connection when it died). The cost is a few more ack writes per window
 * (four instead of one for a full 1,024): in `npm run bench -- ab` against a window's acks
 * written at once, drain rate and worker CPU per message stayed within the machine's noise on
 * Redis and SQLite.
 */
export const ACK_FLUSH_COUNT = 256;
