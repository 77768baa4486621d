import { describe, expect, it } from "vitest";
import { SendQueue } from "./send-queue.js";
import type { StampedEvent } from "./spend-event.js";

const ev = (id: string): StampedEvent => ({
  eventId: id,
  brandId: "b",
  campaignId: "c",
  amountMicros: 1n,
  occurredAtMs: 0,
});

describe("SendQueue", () => {
  it("sends retries first and takes at most n", () => {
    const q = new SendQueue(() => undefined);
    for (const id of ["a", "b", "c", "d"]) q.push(ev(id), -1);
    const first = q.take(2);
    q.retry(first.slice(1), 0);
    expect(q.take(10).map((p) => p.event.eventId)).toEqual(["b", "c", "d"]);
  });

  it("a flush waits for the events accepted before it, not for later ones", async () => {
    const q = new SendQueue(() => undefined);
    q.push(ev("a"), -1);
    q.push(ev("b"), -1);
    let flushed = false;
    const flush = q.settledUpToNow().then(() => (flushed = true));
    q.push(ev("late"), -1);
    const [a, b, late] = q.take(3);
    q.settled(late);
    q.settled(b);
    await Promise.resolve();
    expect(flushed).toBe(false);
    q.settled(a);
    await flush;
    expect(flushed).toBe(true);
    expect(q.unsettled).toBe(0);
  });

  it("brings delayed retries back and says so", async () => {
    let due = 0;
    const q = new SendQueue(() => due++);
    q.push(ev("a"), -1);
    q.retry(q.take(1), 5);
    expect(q.ready).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(q.ready).toBe(1);
    expect(due).toBe(1);
  });
});
