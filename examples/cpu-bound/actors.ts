// CPU-bound work next to I/O-bound work. `blur` burns CPU, so it runs on the worker process's
// thread pool (`threaded: true`) and never stalls the event loop; `report` is an ordinary
// async actor. A pipeline hands blur's result to report.
//
// Run a worker:  npx dramats examples/cpu-bound/actors.ts --broker redis://127.0.0.1:6379 --cpu-threads 2
// Send jobs:     REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/cpu-bound/enqueue.ts 8
import { actor, getLogger } from "../../lib/index.ts";

/** What `blur` returns: small and JSON-safe, as everything that crosses a thread boundary. */
export interface BlurSummary {
  image: string;
  width: number;
  height: number;
  /** Mean brightness after blurring, 0..255. */
  mean: number;
  /** A checksum of the blurred pixels, to show the work really happened. */
  checksum: number;
}

/**
 * Renders a deterministic grayscale "image" from its name and box-blurs it `passes` times:
 * pure CPU, a few hundred milliseconds for the sizes the example uses.
 */
export const blur = actor(
  function blur(image: string, width: number, height: number, passes: number): BlurSummary {
    let seed = 0;
    for (const ch of image) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
    let pixels = new Uint8Array(width * height);
    for (let i = 0; i < pixels.length; i++) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      pixels[i] = seed >>> 24;
    }
    let next = new Uint8Array(pixels.length);
    for (let pass = 0; pass < passes; pass++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          let sum = 0;
          let count = 0;
          for (let dy = -1; dy <= 1; dy++) {
            const yy = y + dy;
            if (yy < 0 || yy >= height) continue;
            for (let dx = -1; dx <= 1; dx++) {
              const xx = x + dx;
              if (xx < 0 || xx >= width) continue;
              sum += pixels[yy * width + xx]!;
              count++;
            }
          }
          next[y * width + x] = (sum / count) | 0;
        }
      }
      [pixels, next] = [next, pixels];
    }
    let total = 0;
    let checksum = 0;
    for (let i = 0; i < pixels.length; i++) {
      total += pixels[i]!;
      checksum = (checksum * 33 + pixels[i]!) >>> 0;
    }
    return { image, width, height, mean: Math.round((total / pixels.length) * 100) / 100, checksum };
  },
  // A runaway blur is stopped after 30 s: its thread is terminated and the message retried.
  { queueName: "images", threaded: true, timeLimit: 30_000, maxRetries: 3 },
);

/** Receives blur's result (a pipeline appends it as the last argument) and logs it. */
export const report = actor(
  async function report(requestedBy: string, summary: BlurSummary) {
    getLogger("example.cpu-bound").info({ requestedBy, ...summary }, `blurred ${summary.image}`);
  },
  { queueName: "reports" },
);
