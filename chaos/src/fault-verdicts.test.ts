import { describe, expect, it } from "vitest";
import { LaunchedProcess } from "@adbudget/testing";
import { heldBoundaryVerdict } from "./clock-verdicts.ts";
import { crossingHeldVerdict, type ConsumerFigures } from "./crossing.ts";
import { latencyVerdict } from "./db-probe.ts";
import { killProcess, killVerdict, restartProcess, type KillRecord } from "./kills.ts";
import { natsHeldVerdict, outagePauseVerdict, type NatsOutage } from "./nats-outage.ts";
import type { OutboxRow } from "./outbox.ts";

/**
 * The chaos run's fault verdicts on recorded figures: each passes on figures of a run where its
 * fault took effect and fails on figures of a run without it, so none of them can pass whatever
 * happens.
 */

describe("killVerdict", () => {
  const killed: KillRecord = {
    what: "budget-0",
    pidBefore: 100,
    endedBy: "SIGKILL",
    gone: true,
    pidAfter: 200,
    back: true,
  };

  it("passes a process that died of SIGKILL and came back with a new pid", () => {
    expect(killVerdict([killed]).ok).toBe(true);
  });

  it("fails when nothing was killed, the process survived, or it never came back anew", () => {
    expect(killVerdict([]).ok).toBe(false);
    expect(killVerdict([{ ...killed, pidBefore: undefined, endedBy: undefined, gone: false }]).problems.join()).toMatch(
      /did not take effect/,
    );
    expect(killVerdict([{ ...killed, endedBy: undefined, gone: false, pidAfter: 100 }]).ok).toBe(false);
    expect(killVerdict([{ ...killed, endedBy: "exit 0" }]).ok).toBe(false);
    expect(killVerdict([{ ...killed, pidAfter: undefined }]).ok).toBe(false);
    expect(killVerdict([{ ...killed, back: false }]).ok).toBe(false);
  });

  it("records a real kill and restart as taking effect, and a kill of a process not running as not", async () => {
    const p = new LaunchedProcess("sleeper", process.execPath, { args: ["-e", "setInterval(() => {}, 1000)"] });
    const idle = await killProcess(p, "never started");
    expect(killVerdict([idle]).ok).toBe(false);
    p.start();
    const record = await killProcess(p, "sleeper");
    await restartProcess(p, record, async () => true);
    try {
      expect(killVerdict([record]), JSON.stringify(record)).toMatchObject({ ok: true });
      expect(record.pidAfter).not.toBe(record.pidBefore);
    } finally {
      await p.kill();
      p.close();
    }
  });
});

describe("natsHeldVerdict and outagePauseVerdict", () => {
  const offset = 1_000_000;
  const outage: NatsOutage = {
    killedAt: 10_000,
    startedAt: 16_000,
    readyAt: 16_300,
    clockOffsetMs: offset,
    markerSubject: "x.budget.exhausted.b",
  };
  const row = (createdAt: number, publishedAt: number | null, subject = "x.budget.exhausted.a"): OutboxRow => ({
    service: "budget",
    eventId: `e${createdAt}`,
    subject,
    createdAtShifted: createdAt + offset,
    publishedAt,
  });
  const before = row(5000, 5003);

  it("passes events written in the outage and published after NATS was started again", () => {
    const v = natsHeldVerdict([before, row(11_000, 16_400, outage.markerSubject), row(12_000, 16_401)], outage);
    expect(v.ok, v.problems.join("; ")).toBe(true);
  });

  it("fails figures of a run without the outage: the same events published milliseconds after their commit", () => {
    const v = natsHeldVerdict([before, row(11_000, 11_004, outage.markerSubject), row(12_000, 12_002)], outage);
    expect(v.ok).toBe(false);
    expect(v.problems.join()).toMatch(/did not take effect/);
  });

  it("fails when no event was written during the outage", () => {
    expect(natsHeldVerdict([before], outage).ok).toBe(false);
  });

  it("judges the campaign's stop by its lower bound: not before NATS was started again", () => {
    const marker = row(11_000, 16_400, outage.markerSubject);
    const source = `nats:${marker.eventId}`;
    expect(outagePauseVerdict({ changedAtShifted: 16_500 + offset, sourceId: source }, marker, outage, 15_000).ok).toBe(
      true,
    );
    // Without the outage the stop follows the spend by milliseconds.
    expect(outagePauseVerdict({ changedAtShifted: 11_010 + offset, sourceId: source }, marker, outage, 15_000).ok).toBe(
      false,
    );
    expect(outagePauseVerdict({ changedAtShifted: 40_000 + offset, sourceId: source }, marker, outage, 15_000).ok).toBe(
      false,
    );
    expect(
      outagePauseVerdict({ changedAtShifted: 16_500 + offset, sourceId: "nats:other" }, marker, outage, 15_000).ok,
    ).toBe(false);
    expect(outagePauseVerdict(undefined, marker, outage, 15_000).ok).toBe(false);
  });
});

describe("crossingHeldVerdict", () => {
  const acked: ConsumerFigures = { deliveredStreamSeq: 60, ackFloorStreamSeq: 60, numAckPending: 0, numRedelivered: 0 };

  it("passes when the durable had delivered the message and waited for its ack at the kill", () => {
    const atKill = { deliveredStreamSeq: 42, ackFloorStreamSeq: 41, numAckPending: 1, numRedelivered: 0 };
    expect(crossingHeldVerdict({ messageSeq: 42, atKill, maxRedelivered: 0, acked }).ok).toBe(true);
    // or a redelivery was counted after it
    expect(crossingHeldVerdict({ messageSeq: 42, atKill: undefined, maxRedelivered: 1, acked }).ok).toBe(true);
  });

  it("fails when the replicas died before the message reached them or after they had acked it", () => {
    const notYet = { deliveredStreamSeq: 41, ackFloorStreamSeq: 41, numAckPending: 0, numRedelivered: 0 };
    const handled = { deliveredStreamSeq: 42, ackFloorStreamSeq: 42, numAckPending: 0, numRedelivered: 0 };
    for (const atKill of [notYet, handled]) {
      const v = crossingHeldVerdict({ messageSeq: 42, atKill, maxRedelivered: 0, acked });
      expect(v.ok).toBe(false);
      expect(v.problems.join()).toMatch(/did not take effect/);
    }
    expect(
      crossingHeldVerdict({ messageSeq: undefined, atKill: undefined, maxRedelivered: 0, acked: undefined }).ok,
    ).toBe(false);
    expect(
      crossingHeldVerdict({
        messageSeq: 42,
        atKill: { ...notYet, deliveredStreamSeq: 42, numAckPending: 1 },
        maxRedelivered: 0,
        acked: undefined,
      }).ok,
    ).toBe(false);
  });
});

describe("heldBoundaryVerdict", () => {
  const b = { what: "the reset at midnight", dueAt: 100_000, backAt: 103_000 };

  it("passes a transition applied once, after the process it needs came back", () => {
    expect(heldBoundaryVerdict({ ...b, applied: [104_500] }, 15_000).ok).toBe(true);
  });

  it("fails a transition applied on time (no outage held it), twice, too late, or never", () => {
    expect(heldBoundaryVerdict({ ...b, applied: [100_004] }, 15_000).problems.join()).toMatch(/did not take effect/);
    expect(heldBoundaryVerdict({ ...b, applied: [104_500, 104_600] }, 15_000).ok).toBe(false);
    expect(heldBoundaryVerdict({ ...b, applied: [119_000] }, 15_000).ok).toBe(false);
    expect(heldBoundaryVerdict({ ...b, applied: [] }, 15_000).ok).toBe(false);
  });
});

describe("latencyVerdict", () => {
  it("passes a query slowed by the latency both ways and fails one that was not", () => {
    expect(latencyVerdict(1, 1003, 500).ok).toBe(true);
    expect(latencyVerdict(1, 2, 500).ok).toBe(false);
    expect(latencyVerdict(1, NaN, 500).ok).toBe(false);
  });
});
