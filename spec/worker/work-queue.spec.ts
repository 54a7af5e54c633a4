import { expect } from "chai";
import { WorkQueue } from "../../lib/worker/work-queue.ts";

describe("WorkQueue", () => {
  it("hands out lower priority numbers first, in arrival order within a priority", () => {
    const queue = new WorkQueue<string>();
    for (const [priority, tag] of [[10, "p10-a"], [0, "p0-a"], [5, "p5"], [0, "p0-b"], [10, "p10-b"], [-1, "p-1"]] as const) queue.push(priority, tag);
    expect(queue.size).to.equal(6);
    const out: string[] = [];
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(item);
    expect(out).to.deep.equal(["p-1", "p0-a", "p0-b", "p5", "p10-a", "p10-b"]);
    expect(queue.size).to.equal(0);
  });

  it("keeps order across interleaved pushes and shifts, and through long runs of one priority", () => {
    const queue = new WorkQueue<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      queue.push(0, i);
      if (i % 3 === 0) out.push(queue.shift()!);
    }
    queue.push(-5, -1);
    expect(queue.shift()).to.equal(-1);
    out.push(...queue.drain());
    expect(out).to.deep.equal(Array.from({ length: 5000 }, (_, i) => i));
    expect(queue.size).to.equal(0);
    expect(queue.shift()).to.equal(undefined);
  });

  it("pops from the far end: the highest priority number's latest arrival first, leaving the rest in order", () => {
    const queue = new WorkQueue<string>();
    for (const [priority, tag] of [[0, "a"], [5, "b"], [0, "c"], [5, "d"], [9, "e"]] as const) queue.push(priority, tag);
    queue.shift(); // "a": a lane whose head moved on must pop correctly too
    expect([queue.pop(), queue.pop(), queue.pop()]).to.deep.equal(["e", "d", "b"]);
    queue.push(1, "f");
    expect(queue.drain()).to.deep.equal(["c", "f"]);
    expect(queue.pop()).to.equal(undefined);
    expect(queue.size).to.equal(0);
  });

  it("removes the items a predicate selects, in order, keeping the others in their places and dropping emptied lanes", () => {
    const queue = new WorkQueue<string>();
    for (const [priority, tag] of [[0, "a1"], [0, "b1"], [5, "b2"], [0, "a2"], [-1, "b3"], [5, "a3"]] as const) queue.push(priority, tag);
    queue.shift(); // b3: a lane with a head past 0 is read from its head
    queue.push(-1, "b4");
    expect(queue.remove((tag) => tag.startsWith("b"))).to.deep.equal(["b4", "b1", "b2"]);
    expect(queue.size).to.equal(3);
    queue.push(3, "a4");
    expect(queue.drain()).to.deep.equal(["a1", "a2", "a4", "a3"]);
    expect(queue.remove(() => true)).to.deep.equal([]);
    expect(queue.size).to.equal(0);
  });
});
