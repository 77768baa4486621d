import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { untilExpiry } from "./stream-expiry.js";

/** A source that has a message at once, every time: what wins a race against a 0 ms timer. */
async function* eager(): AsyncGenerator<number> {
  for (let i = 0; ; i++) yield i;
}

/** A source that has one message, then waits until `stop` (the call's signal, in a server). */
function waiting(stop: AbortSignal): AsyncIterable<number> {
  return (async function* () {
    yield 1;
    await new Promise((r) => stop.addEventListener("abort", r, { once: true }));
  })();
}

async function drain(messages: AsyncIterable<number>, most = 10_000) {
  const seen: number[] = [];
  try {
    for await (const m of messages) if (seen.push(m) >= most) break;
    return { seen, code: "done" };
  } catch (err) {
    return { seen, code: Code[ConnectError.from(err).code] };
  }
}

describe("untilExpiry", () => {
  it("delivers nothing for a token already past its expiry (accepted within the clock skew)", async () => {
    expect(await drain(untilExpiry(eager(), Date.now() - 1000))).toEqual({ seen: [], code: "Unauthenticated" });
  });

  it("stops a source that always has a message ready once the expiry passes", async () => {
    const { seen, code } = await drain(untilExpiry(eager(), Date.now() + 50), 100_000_000);
    expect(code).toBe("Unauthenticated");
    expect(seen.length).toBeGreaterThan(0);
  });

  it("ends a stream waiting for its next message at the expiry", async () => {
    const stop = new AbortController();
    const expiresAt = Date.now() + 100;
    const result = await drain(untilExpiry(waiting(stop.signal), expiresAt));
    expect(result).toEqual({ seen: [1], code: "Unauthenticated" });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    stop.abort();
  });

  it("passes a stream that ends before the expiry through whole", async () => {
    async function* three() {
      yield* [1, 2, 3];
    }
    expect(await drain(untilExpiry(three(), Date.now() + 60_000))).toEqual({ seen: [1, 2, 3], code: "done" });
  });
});
