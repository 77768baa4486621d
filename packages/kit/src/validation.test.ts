import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { StructSchema, ValueSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import { describe, expect, it } from "vitest";
import { UpdateBrandRequestSchema } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import {
  ListSpendEventsRequestSchema,
  RecordSpendBatchRequestSchema,
  RecordSpendRequestSchema,
} from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { InvalidArgumentError } from "./errors.js";
import { assertValid, checkInput, validate } from "./validation.js";

const validator = createValidator();
const BRAND = "0b6a4c3e-8d7f-4a51-9a43-3f3e2c1d0b9a";
const CAMPAIGN = "5f0e8a7c-2b1d-4c3e-8f9a-0a1b2c3d4e5f";

function spend(init: MessageInitShape<typeof RecordSpendRequestSchema> = {}) {
  return create(RecordSpendRequestSchema, {
    eventId: "evt-1",
    brandId: BRAND,
    campaignId: CAMPAIGN,
    amountMicros: 1_000_000n,
    occurredAt: timestampFromDate(new Date("2025-03-01T12:00:00Z")),
    ...init,
  });
}

describe("checkInput (the generic walk)", () => {
  it("accepts a valid request without violations", () => {
    expect(validate(validator, RecordSpendRequestSchema, spend())).toEqual([]);
    // Printable non-ASCII, emoji (a valid surrogate pair) and U+0080.. are fine.
    expect(checkInput(RecordSpendRequestSchema, spend({ eventId: "é-😀-\u0080-\u00a0" }))).toEqual([]);
  });

  it.each([
    ["\u0000", "U+0000"],
    ["a\tb", "U+0009"],
    ["line\nbreak", "U+000A"],
    ["\u001f", "U+001F"],
    ["del\u007f", "U+007F"],
  ])("refuses the control character in %j", (eventId, found) => {
    expect(validate(validator, RecordSpendRequestSchema, spend({ eventId }))).toEqual([
      { field: "event_id", description: `must not contain control characters (found ${found})` },
    ]);
  });

  it.each([["\ud800"], ["a\udc00b"], ["\ud83d"], ["x\ud83dy"]])("refuses the unpaired surrogate in %j", (eventId) => {
    const violations = validate(validator, RecordSpendRequestSchema, spend({ eventId }));
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ field: "event_id" });
    expect(violations[0].description).toMatch(
      /^must be valid UTF-8 \(found an unpaired surrogate U\+D[89A-F][0-9A-F]{2}\)$/,
    );
  });

  it("refuses a Timestamp out of its range, whatever int64 seconds binary gRPC carries", () => {
    const far = validate(validator, RecordSpendRequestSchema, spend({ occurredAt: { seconds: 2n ** 62n, nanos: 0 } }));
    expect(far).toEqual([
      { field: "occurred_at", description: "must be a timestamp between 0001-01-01 and 9999-12-31" },
    ]);
    const before = validate(
      validator,
      RecordSpendRequestSchema,
      spend({ occurredAt: { seconds: -62135596801n, nanos: 0 } }),
    );
    expect(before).toEqual([
      { field: "occurred_at", description: "must be a timestamp between 0001-01-01 and 9999-12-31" },
    ]);
    const nanos = validate(validator, RecordSpendRequestSchema, spend({ occurredAt: { seconds: 0n, nanos: -1 } }));
    expect(nanos).toEqual([
      { field: "occurred_at", description: "must be a timestamp with nanos between 0 and 999999999" },
    ]);
    const tooManyNanos = checkInput(
      RecordSpendRequestSchema,
      spend({ occurredAt: { seconds: 0n, nanos: 1_000_000_000 } }),
    );
    expect(tooManyNanos).toHaveLength(1);
    // The bounds themselves are valid.
    expect(checkInput(RecordSpendRequestSchema, spend({ occurredAt: { seconds: -62135596800n, nanos: 0 } }))).toEqual(
      [],
    );
    expect(
      checkInput(RecordSpendRequestSchema, spend({ occurredAt: { seconds: 253402300799n, nanos: 999_999_999 } })),
    ).toEqual([]);
  });

  it("walks nested messages and repeated fields, naming the path like protovalidate", () => {
    const req = create(UpdateBrandRequestSchema, {
      brand: {
        id: BRAND,
        name: "Acme\u0000",
        createTime: { seconds: 2n ** 62n, nanos: 0 },
        archiveTime: { seconds: 1n, nanos: -1 },
      },
      updateMask: { paths: ["name", "time\tzone"] },
    });
    expect(validate(validator, UpdateBrandRequestSchema, req)).toEqual([
      { field: "brand.name", description: "must not contain control characters (found U+0000)" },
      { field: "brand.create_time", description: "must be a timestamp between 0001-01-01 and 9999-12-31" },
      { field: "brand.archive_time", description: "must be a timestamp with nanos between 0 and 999999999" },
      { field: "update_mask.paths[1]", description: "must not contain control characters (found U+0009)" },
    ]);
  });

  it("merges protovalidate's violations and its own into one InvalidArgumentError", () => {
    const req = create(ListSpendEventsRequestSchema, {
      brandId: "not-a-uuid",
      pageToken: "tok\u0000",
      endTime: { seconds: 2n ** 40n, nanos: 0 },
    });
    let thrown: unknown;
    try {
      assertValid(validator, ListSpendEventsRequestSchema, req);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect((thrown as InvalidArgumentError).violations.map((v) => v.field)).toEqual([
      "brand_id",
      "end_time",
      "page_token",
    ]);
  });

  it("does not walk IGNORE_ALWAYS fields: RecordSpendBatch events are validated one by one with their prefix", () => {
    const batch = create(RecordSpendBatchRequestSchema, {
      events: [
        spend(),
        spend({ eventId: "evt-2" }),
        spend({ eventId: "evt\u00003", occurredAt: { seconds: 2n ** 62n, nanos: 0 } }),
      ],
    });
    // What the interceptor runs on the whole request: the bad third event does not fail the batch.
    expect(validate(validator, RecordSpendBatchRequestSchema, batch)).toEqual([]);
    expect(checkInput(RecordSpendBatchRequestSchema, batch)).toEqual([]);
    // What the handler runs on each event: the same walk, with the item's path.
    expect(validate(validator, RecordSpendRequestSchema, batch.events[0], "events[0].")).toEqual([]);
    expect(validate(validator, RecordSpendRequestSchema, batch.events[2], "events[2].")).toEqual([
      { field: "events[2].event_id", description: "must not contain control characters (found U+0000)" },
      { field: "events[2].occurred_at", description: "must be a timestamp between 0001-01-01 and 9999-12-31" },
    ]);
  });

  it("walks maps, keys included, and recursive types (google.protobuf.Struct)", () => {
    // No request of ours has a map today; Struct (map<string, Value>, recursive) stands in.
    const str = (s: string) => create(ValueSchema, { kind: { case: "stringValue", value: s } });
    const struct = create(StructSchema, {
      fields: {
        ok: str("fine"),
        "bad\u0000key": str("fine"),
        nested: create(ValueSchema, {
          kind: {
            case: "listValue",
            value: {
              values: [
                str("x"),
                create(ValueSchema, { kind: { case: "structValue", value: { fields: { deep: str("\u007f") } } } }),
              ],
            },
          },
        }),
        lone: str("\udfff"),
      },
    });
    expect(checkInput(StructSchema, struct)).toEqual([
      { field: 'fields["bad\\u0000key"]', description: "map key must not contain control characters (found U+0000)" },
      {
        field: 'fields["nested"].list_value.values[1].struct_value.fields["deep"].string_value',
        description: "must not contain control characters (found U+007F)",
      },
      { field: 'fields["lone"].string_value', description: "must be valid UTF-8 (found an unpaired surrogate U+DFFF)" },
    ]);
  });

  it("stops at 100 levels of nesting instead of overflowing the stack", () => {
    let value = create(ValueSchema, { kind: { case: "stringValue", value: "leaf" } });
    for (let i = 0; i < 150; i++) {
      value = create(ValueSchema, { kind: { case: "listValue", value: { values: [value] } } });
    }
    const struct = create(StructSchema, { fields: { deep: value } });
    const violations = checkInput(StructSchema, struct);
    expect(violations).toHaveLength(1);
    expect(violations[0].description).toBe("must not nest more than 100 messages deep");
    expect(violations[0].field).toMatch(/^fields\["deep"\]\.list_value\.values\[0\]/);
  });

  it("answers a rule that cannot be evaluated with the input's own violations when it has any", () => {
    const broken = {
      validate: () => ({ kind: "error", error: new Error("rule failed to evaluate") }),
    } as unknown as Validator;
    expect(validate(broken, RecordSpendRequestSchema, spend({ occurredAt: { seconds: 2n ** 62n, nanos: 0 } }))).toEqual(
      [{ field: "occurred_at", description: "must be a timestamp between 0001-01-01 and 9999-12-31" }],
    );
    expect(() => validate(broken, RecordSpendRequestSchema, spend())).toThrow("rule failed to evaluate");
  });

  it("is cheap when nothing is wrong", () => {
    const batch = create(RecordSpendBatchRequestSchema, {
      events: Array.from({ length: 1000 }, (_, i) => spend({ eventId: `evt-${i}` })),
    });
    const one = spend();
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) checkInput(RecordSpendRequestSchema, one);
    for (const e of batch.events) checkInput(RecordSpendRequestSchema, e);
    // ~11k messages: a few ms; the bound only catches an accidental quadratic walk.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
