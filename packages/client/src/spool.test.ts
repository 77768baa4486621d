import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StampedEvent } from "./spend-event.js";
import { Spool } from "./spool.js";

const BRAND = "01a240ed-1bae-7025-a088-c0c29a737390";
const CAMPAIGN = "01a240ed-1bae-7025-a088-c0c29a737391";
const event = (i: number): StampedEvent => ({
  eventId: `e-${i}`,
  brandId: BRAND,
  campaignId: CAMPAIGN,
  amountMicros: 999_999_999_999_000n + BigInt(i), // near the 10^15 bound: exact as a string
  occurredAtMs: 1_700_000_000_000 + i,
});

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const fresh = () => (dir = mkdtempSync(join(tmpdir(), "spool-test-")));

describe("Spool", () => {
  it("writes the line format of docs/sdk.md, and reads every unsettled event back", () => {
    fresh();
    const { spool } = Spool.open(dir);
    for (let i = 0; i < 3; i++) spool.append(event(i));
    const [segment] = readdirSync(dir).filter((f) => f.startsWith("segment-"));
    const first: unknown = JSON.parse(readFileSync(join(dir, segment), "utf8").split("\n")[0]);
    expect(first).toEqual({
      id: "e-0",
      brand: BRAND,
      campaign: CAMPAIGN,
      micros: "999999999999000",
      at: 1_700_000_000_000,
    });
    // Closed with all three unsettled (a crash is the e2e test's: sdk-ts.test.ts). The next life
    // reads all three back, exact to the micro.
    spool.close();
    const again = Spool.open(dir);
    expect(again.recovered.map((r) => r.event)).toEqual([event(0), event(1), event(2)]);
    again.spool.close();
  });

  it("skips a torn last line, the write a crash cut short", () => {
    fresh();
    const { spool } = Spool.open(dir);
    spool.append(event(0));
    const [segment] = readdirSync(dir).filter((f) => f.startsWith("segment-"));
    spool.close();
    appendFileSync(join(dir, segment), '{"id":"e-1","brand":"01a2');
    const again = Spool.open(dir);
    expect(again.recovered.map((r) => r.event.eventId)).toEqual(["e-0"]);
    again.spool.close();
    expect(readdirSync(dir)).not.toContain("rejected.jsonl");
    expect(JSON.parse(readFileSync(join(dir, "torn.jsonl"), "utf8"))).toMatchObject({
      raw: '{"id":"e-1","brand":"01a2',
    });
  });

  it("keeps a corrupt line that is not the last in rejected.jsonl instead of dropping it", () => {
    fresh();
    const { spool } = Spool.open(dir);
    spool.append(event(0));
    const [segment] = readdirSync(dir).filter((f) => f.startsWith("segment-"));
    spool.close();
    appendFileSync(join(dir, segment), "garbage\n");
    appendFileSync(join(dir, segment), `${readFileSync(join(dir, segment), "utf8").split("\n")[0]}\n`);
    const again = Spool.open(dir);
    expect(again.recovered.map((r) => r.event.eventId)).toEqual(["e-0", "e-0"]);
    again.spool.close();
    expect(JSON.parse(readFileSync(join(dir, "rejected.jsonl"), "utf8"))).toMatchObject({
      raw: "garbage",
      code: "CorruptSpoolLine",
    });
  });

  it("deletes a segment once all of it is settled and a newer one takes the writes", () => {
    fresh();
    const { spool } = Spool.open(dir);
    const segments = Array.from({ length: 10_001 }, (_, i) => spool.append(event(i)));
    expect(new Set(segments).size).toBe(2); // the 10,001st event opened a second segment
    for (const s of segments.slice(0, 10_000)) spool.settle(s);
    expect(readdirSync(dir).filter((f) => f.startsWith("segment-"))).toHaveLength(1);
    spool.settle(segments[10_000]);
    spool.close();
    expect(readdirSync(dir).filter((f) => f.startsWith("segment-"))).toEqual([]);
  });

  it("is one reporter's: a second open in this process or by a live process fails, a dead holder's lock is taken", () => {
    fresh();
    const { spool } = Spool.open(dir);
    expect(() => Spool.open(dir)).toThrow(/already open in this process/);
    symlinkSync(dir, `${dir}-link`);
    try {
      expect(() => Spool.open(`${dir}-link`)).toThrow(/already open in this process/); // one directory, two names
    } finally {
      rmSync(`${dir}-link`);
    }
    spool.close();
    const live = spawn("sleep", ["30"]);
    try {
      writeFileSync(join(dir, "lock"), String(live.pid));
      expect(() => Spool.open(dir)).toThrow(/held by live process/);
    } finally {
      live.kill("SIGKILL");
    }
    writeFileSync(join(dir, "lock"), "2147483646"); // no such process
    const taken = Spool.open(dir);
    expect(readFileSync(join(dir, "lock"), "utf8")).toBe(String(process.pid));
    taken.spool.close();
  });

  it("keeps rejected events with their code in rejected.jsonl", () => {
    fresh();
    const { spool } = Spool.open(dir);
    spool.reject(event(7), "PermissionDenied", "brand not in the token");
    spool.close();
    const line: unknown = JSON.parse(readFileSync(join(dir, "rejected.jsonl"), "utf8"));
    expect(line).toMatchObject({ id: "e-7", micros: "999999999999007", code: "PermissionDenied" });
  });
});
