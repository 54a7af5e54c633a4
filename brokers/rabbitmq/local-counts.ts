/**
 * What this process's consumers hold, per queue: deliveries `prefetched` into a consumer's
 * buffer, deliveries the worker fetched and has not settled (`inFlight`), and `q.DQ` messages
 * being moved into the delay ladder (`moving`). RabbitMQ counts all of these as neither ready
 * nor delayed, so `depths` adds them back.
 */
export class LocalCounts {
  readonly prefetched = new Map<string, number>();
  readonly inFlight = new Map<string, number>();
  readonly moving = new Map<string, number>();

  track(queueName: string, prefetched: number, inFlight: number): void {
    if (prefetched !== 0) bump(this.prefetched, queueName, prefetched);
    if (inFlight !== 0) bump(this.inFlight, queueName, inFlight);
  }

  trackMoving(queueName: string, delta: number): void {
    bump(this.moving, queueName, delta);
  }

  of(queueName: string): { prefetched: number; inFlight: number; moving: number } {
    return { prefetched: this.prefetched.get(queueName) ?? 0, inFlight: this.inFlight.get(queueName) ?? 0, moving: this.moving.get(queueName) ?? 0 };
  }
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const next = (map.get(key) ?? 0) + delta;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
