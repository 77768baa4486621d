import {
  create,
  ScalarType,
  toJson,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  type Message,
} from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANSWER_REGISTRY } from "@adbudget/kit";
import { eventually, startSystemInProcess, type SystemHarness } from "@adbudget/testing";
import { localDate } from "@adbudget/time";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { Health } from "@adbudget/proto/grpc/health/v1/health_pb.js";

/**
 * A hostile caller against every RPC of every service: for each method, a valid request is
 * taken apart field by field (nested messages and list items included) and each field is given
 * hostile values: NUL and control characters, huge strings, the ends of every integer range,
 * undefined enum values, Timestamps and dates out of range, lists past their limits, a body past
 * the size limit. Sent as binary gRPC, as the Connect protocol in binary over HTTP/1.1, and as
 * Connect JSON over HTTP/1.1 (what curl and browsers send: answers are written as JSON, error
 * details inside a batch result included). Every answer must be a deliberate code (never
 * INTERNAL or UNKNOWN), and so must every event's result in a RecordSpendBatch answer;
 * meanwhile an honest caller's spend and reads all succeed, and a brand nobody touched is
 * unchanged afterwards.
 */
let h: SystemHarness;
let target: { brandId: string; campaignId: string };
beforeAll(async () => {
  h = await startSystemInProcess();
  const { brand } = await h.brands.createBrand({ name: "Hostile target", timeZone: "UTC" });
  const { campaign } = await h.campaigns.createCampaign({ brandId: brand!.id, name: "Target" });
  target = { brandId: brand!.id, campaignId: campaign!.id };
  clocksIdentity = await h.auth.as({ sub: "test:clocks", role: "clocks" });
});
afterAll(async () => {
  await h?.close();
});

/** A valid request per method, so hostile values reach past the first check. */
function baseRequest(method: DescMethod): Record<string, unknown> {
  const { brandId, campaignId } = target;
  const today = localDate(h.now(), "UTC");
  const period = { kind: PeriodKind.DAY, start: today };
  const event = {
    eventId: `e-${Math.random()}`,
    brandId,
    campaignId,
    amountMicros: 1n,
    occurredAt: timestampFromMs(h.now()),
  };
  const window = { daysOfWeek: [1, 2], start: "09:00", end: "17:00" };
  const byName: Record<string, Record<string, unknown>> = {
    "BrandService.CreateBrand": { name: `Hostile ${Math.random()}`, timeZone: "UTC", currencyCode: "EUR" },
    "BrandService.UpdateBrand": {
      brand: { id: brandId, name: `Renamed ${Math.random()}` },
      updateMask: { paths: ["name"] },
    },
    "BrandService.ListBrands": { pageSize: 10 },
    "BudgetService.SetBudget": { brandId, dailyLimitMicros: 1_000_000_000n },
    "BudgetService.RecordSpend": event,
    "BudgetService.RecordSpendBatch": { events: [event, { ...event, eventId: `e-${Math.random()}` }] },
    "BudgetService.ListSpendEvents": {
      brandId,
      campaignId,
      startTime: timestampFromMs(0),
      endTime: timestampFromMs(h.now()),
      pageSize: 5,
    },
    "BudgetService.ListBudgetPeriods": { brandId, kind: PeriodKind.DAY, pageSize: 5 },
    "BudgetService.GetCampaignSpend": { brandId, campaignId, day: today },
    "BudgetClockService.OpenBudgetPeriod": { brandId, period },
    "BudgetClockService.OpenCurrentPeriods": { brandId },
    "CampaignService.CreateCampaign": { brandId, name: "Hostile", schedule: { timeZone: "UTC", windows: [window] } },
    "CampaignService.UpdateCampaign": {
      campaign: { id: campaignId, name: "Hostile", schedule: { windows: [window] } },
      updateMask: { paths: ["name", "schedule"] },
    },
    "CampaignService.ListCampaigns": { brandId, pageSize: 5 },
    "CampaignService.ListCampaignStateChanges": { campaignId, brandId, pageSize: 5 },
    "CampaignService.WatchCampaigns": { brandId },
    "CampaignClockService.SetDaypartState": {
      campaignId,
      inWindow: true,
      asOfTime: timestampFromMs(h.now()),
      sourceId: "hostile",
      scheduleVersion: 1n,
    },
    "CampaignClockService.OpenBudgetPeriod": { brandId, period, sourceId: "hostile", exhausted: false, sequence: 0n },
    "CampaignClockService.OpenBudgetPeriods": {
      brandId,
      periods: [{ period, exhausted: false, sequence: 0n }],
      sourceId: "hostile",
    },
    "CampaignClockService.ReconcileBrand": {
      brandId,
      sourceId: "hostile",
      brand: { archived: false, timeZone: "UTC", version: 1n },
      day: { period, exhausted: false, sequence: 0n },
      month: { period: { kind: PeriodKind.MONTH, start: { ...today, day: 1 } }, exhausted: false, sequence: 0n },
      caps: [{ campaignId, day: today, exhausted: false, sequence: 0n }],
    },
    "Health.Check": { service: "" },
  };
  const known = byName[`${method.parent.name}.${method.name}`];
  if (known !== undefined) return known;
  // Get/Archive/Lock/Pause/Resume/Delete take an id; budget reads take a brand id.
  if (method.input.fields.some((f) => f.name === "brand_id")) return { brandId };
  return { id: method.parent.name.startsWith("Campaign") ? campaignId : brandId };
}

const LEAVES = new Set(["google.protobuf.Timestamp", "google.type.Date"]);

/** Every path to a scalar, enum, list or leaf-message field, nested messages included (depth 3). */
function fieldPaths(desc: DescMessage, depth = 0): DescField[][] {
  const out: DescField[][] = [];
  for (const f of desc.fields) {
    out.push([f]);
    const nested =
      f.fieldKind === "message"
        ? f.message
        : f.fieldKind === "list" && f.listKind === "message"
          ? f.message
          : undefined;
    if (nested !== undefined && !LEAVES.has(nested.typeName) && depth < 3) {
      for (const rest of fieldPaths(nested, depth + 1)) out.push([f, ...rest]);
    }
  }
  return out;
}

const HUGE = "x".repeat(100_000);
function hostileValues(f: DescField): unknown[] {
  if (f.fieldKind === "list") {
    if (f.listKind === "message") return [Array.from({ length: 1001 }, () => create(f.message))];
    if (f.listKind === "scalar" && f.scalar === ScalarType.STRING)
      return [Array.from({ length: 1001 }, () => "a"), ["\u0000"]];
    if (f.listKind === "enum") return [[999], [-1], Array.from({ length: 1001 }, () => 1)];
    return [];
  }
  if (f.fieldKind === "enum") return [999, -1];
  if (f.fieldKind === "message") {
    if (f.message.typeName === "google.protobuf.Timestamp") {
      return [
        { seconds: 2n ** 62n, nanos: 0 },
        { seconds: -(2n ** 62n), nanos: 0 },
        { seconds: 0n, nanos: -1 },
        { seconds: 0n, nanos: 1_000_000_000 },
      ];
    }
    if (f.message.typeName === "google.type.Date") {
      return [
        { year: 0, month: 0, day: 0 },
        { year: 10_000, month: 13, day: 32 },
        { year: 2026, month: 2, day: 30 },
        { year: -5, month: 1, day: 1 },
      ];
    }
    return [];
  }
  if (f.fieldKind !== "scalar") return [];
  switch (f.scalar) {
    case ScalarType.STRING:
      return [
        "\u0000",
        "a\u0000b",
        "\u0007bell",
        "line\nbreak",
        "\u007f",
        HUGE,
        "' or 1=1 --",
        "名前 ✓",
        "../../etc/passwd",
        "%00",
        "",
      ];
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return [-2147483648, 2147483647, -1];
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return [4294967295];
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return [-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n];
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return [2n ** 64n - 1n];
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return [Number.NaN, Number.POSITIVE_INFINITY, -1e308];
    default:
      return [];
  }
}

/** The request with the field at `path` set to `value` (intermediate messages created as needed). */
function withValue(method: DescMethod, path: DescField[], value: unknown): Message {
  const msg = create(method.input, baseRequest(method) as never) as unknown as Record<string, unknown>;
  let obj = msg;
  for (const f of path.slice(0, -1)) {
    if (f.fieldKind === "list") {
      const list = obj[f.localName] as Record<string, unknown>[];
      if (list.length === 0) list.push(create(f.message!));
      obj = list[0]!;
    } else {
      obj[f.localName] ??= create(f.message!);
      obj = obj[f.localName] as Record<string, unknown>;
    }
  }
  const leaf = path.at(-1)!;
  obj[leaf.localName] = leaf.fieldKind === "message" ? create(leaf.message, value as never) : value;
  return msg as unknown as Message;
}

/** A hostile value, short enough to read in a failure list. */
function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.length} items]`;
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 10)}...(${value.length} chars)` : value);
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/**
 * Calls any method; returns the code (OK included). Streams: the first message or the error.
 * A call that succeeds with per-item results (RecordSpendBatch) answers the first INTERNAL or
 * UNKNOWN among them, as "results": an event's result is an answer too.
 */
async function call(
  transport: Transport,
  service: DescService,
  method: DescMethod,
  req: Message,
): Promise<Code | "OK" | `results: ${string}`> {
  const client = createClient(service, transport) as unknown as Record<string, (r: unknown, o: unknown) => unknown>;
  const fn = client[method.localName].bind(client);
  try {
    if (method.methodKind === "server_streaming") {
      const abort = new AbortController();
      for await (const _ of fn(req, { signal: abort.signal, timeoutMs: 5000 }) as AsyncIterable<unknown>) {
        abort.abort();
        break;
      }
      return "OK";
    }
    const res = await fn(req, { timeoutMs: 10_000 });
    const bad = resultCodes(res).find((c) => c === Code.Internal || c === Code.Unknown);
    return bad === undefined ? "OK" : `results: ${Code[bad]}`;
  } catch (err) {
    const e = ConnectError.from(err);
    return e.code === Code.Canceled ? "OK" : e.code;
  }
}

/** The error codes of a batch answer's results (none for other answers). */
function resultCodes(res: unknown): Code[] {
  const results = (res as { results?: unknown }).results;
  if (!Array.isArray(results)) return [];
  return results.flatMap((r: { error?: { code: number } }) => (r.error === undefined ? [] : [r.error.code as Code]));
}

/** True when the request can be written as JSON at all (NaN in an int64, say, cannot). */
function jsonWritable(method: DescMethod, req: Message): boolean {
  try {
    toJson(method.input, req as never);
    return true;
  } catch {
    return false;
  }
}

/** Hostile input from a caller with the right to call: an admin, or the clocks for the clock services. */
let clocksIdentity: Interceptor[] = [];
const interceptorsFor = (service: DescService): Interceptor[] =>
  service.name.endsWith("ClockService") ? clocksIdentity : h.auth.admin;

const SERVICES: [DescService, () => string][] = [
  [BrandService, () => h.brandApp.server.url],
  [BudgetService, () => h.budgetApp.server.url],
  [BudgetClockService, () => h.budgetApp.server.url],
  [CampaignService, () => h.campaignApp.server.url],
  [CampaignClockService, () => h.campaignApp.server.url],
  [Health, () => h.budgetApp.server.url],
];

describe("hostile input through every RPC of every service", () => {
  it("is answered with a deliberate code, never INTERNAL or UNKNOWN, and never fails an honest caller", async () => {
    // The witness: a brand with a budget and spend that nothing in the sweep may touch.
    const { brand: witness } = await h.brands.createBrand({ name: "Witness", timeZone: "Asia/Kathmandu" });
    await h.budget.setBudget({ brandId: witness!.id, dailyLimitMicros: 10_000_000_000n });
    const { campaign: wc } = await h.campaigns.createCampaign({ brandId: witness!.id, name: "Witness campaign" });
    // An honest ad server keeps reporting spend and reading status during the sweep.
    let honest = 0;
    const honestFailures: string[] = [];
    let sweeping = true;
    const honestLoop = (async () => {
      while (sweeping) {
        try {
          await h.budget.recordSpend({
            eventId: `honest-${honest}`,
            brandId: witness!.id,
            campaignId: wc!.id,
            amountMicros: 7n,
          });
          await h.campaigns.getCampaign({ id: wc!.id });
          honest++;
        } catch (err) {
          honestFailures.push(ConnectError.from(err).message);
        }
      }
    })();

    const bad: string[] = [];
    let calls = 0;
    try {
      for (const [service, url] of SERVICES) {
        const transports: [string, Transport][] = [
          ["grpc", createGrpcTransport({ baseUrl: url(), interceptors: interceptorsFor(service) })],
          [
            "connect",
            createConnectTransport({ baseUrl: url(), httpVersion: "1.1", interceptors: interceptorsFor(service) }),
          ],
          // The client needs the registry to read an Any back; without one on the server the
          // answer is not even written (INTERNAL for the whole call).
          [
            "connect-json",
            createConnectTransport({
              baseUrl: url(),
              httpVersion: "1.1",
              useBinaryFormat: false,
              jsonOptions: { registry: ANSWER_REGISTRY },
              interceptors: interceptorsFor(service),
            }),
          ],
        ];
        for (const method of service.methods) {
          if (method.methodKind === "bidi_streaming" || method.methodKind === "client_streaming") continue;
          for (const path of fieldPaths(method.input)) {
            for (const value of hostileValues(path.at(-1)!)) {
              for (const [name, transport] of transports) {
                let req: Message;
                try {
                  req = withValue(method, path, value);
                } catch {
                  continue; // a value the message type cannot even hold
                }
                if (name === "connect-json" && !jsonWritable(method, req)) continue; // JSON cannot carry NaN in an int64, say
                const code = await call(transport, service, method, req);
                calls++;
                if (code === Code.Internal || code === Code.Unknown || (typeof code === "string" && code !== "OK")) {
                  bad.push(
                    `${name} ${service.name}/${method.name} ${path.map((f) => f.name).join(".")}=${show(value)} -> ${typeof code === "string" ? code : Code[code]}`,
                  );
                }
              }
            }
          }
        }
        // A body past the size limit: refused, not INTERNAL, and the server keeps serving.
        const huge = await call(
          createGrpcTransport({ baseUrl: url(), interceptors: h.auth.admin }),
          BrandService,
          BrandService.method.createBrand,
          create(BrandService.method.createBrand.input, { name: "y".repeat(5 * 1024 * 1024) }),
        );
        if (url() === h.brandApp.server.url) expect(huge).toBe(Code.ResourceExhausted);
      }
    } finally {
      sweeping = false;
      await honestLoop;
    }
    expect(bad).toEqual([]);
    expect(calls).toBeGreaterThan(1000);
    expect(honestFailures).toEqual([]);
    expect(honest).toBeGreaterThan(10);
    // The witness is as it was, plus exactly the honest spend.
    expect((await h.brands.getBrand({ id: witness!.id })).brand).toMatchObject({
      name: "Witness",
      timeZone: "Asia/Kathmandu",
      archived: false,
    });
    await eventually(
      async () =>
        (await h.budget.getBudgetStatus({ brandId: witness!.id })).status?.day?.spentMicros === BigInt(honest) * 7n,
      5000,
      "honest spend",
    );
    expect((await h.budget.getBudget({ brandId: witness!.id })).budget?.dailyLimitMicros).toBe(10_000_000_000n);
    expect((await h.campaigns.getCampaign({ id: wc!.id })).campaign).toMatchObject({
      serving: true,
      name: "Witness campaign",
    });
  }, 600_000);
});
