import { describe, expect, it } from "vitest";
import { msgIdVerdict } from "./streams.ts";

/** Every stream message carries its outbox event id as Nats-Msg-Id: a missing one fails. */
describe("msgIdVerdict", () => {
  const msg = (seq: number, msgId: string | undefined) => ({
    seq,
    subject: "x.budget.exhausted.b",
    msgId,
    data: new Uint8Array(),
  });
  const outbox = [
    { eventId: "A", published: true },
    { eventId: "B", published: true },
  ];

  it("passes messages carrying their outbox event ids once each", () => {
    expect(msgIdVerdict([{ name: "S", messages: [msg(1, "a"), msg(2, "b")], outbox }]).ok).toBe(true);
  });

  it("fails a message without Nats-Msg-Id, a copy, an id of no outbox row, and a published row missing from the stream", () => {
    expect(
      msgIdVerdict([{ name: "S", messages: [msg(1, "a"), msg(2, "b"), msg(3, undefined)], outbox }]).problems.join(),
    ).toMatch(/no Nats-Msg-Id/);
    expect(msgIdVerdict([{ name: "S", messages: [msg(1, "a"), msg(2, "b"), msg(3, "b")], outbox }]).ok).toBe(false);
    expect(msgIdVerdict([{ name: "S", messages: [msg(1, "a"), msg(2, "b"), msg(3, "z")], outbox }]).ok).toBe(false);
    expect(msgIdVerdict([{ name: "S", messages: [msg(1, "a")], outbox }]).ok).toBe(false);
  });
});
