/**
 * A valid request of any RPC of the product, about one brand and its campaign: what the tests
 * that call every RPC (the access matrix, the production configuration's run) send, so that an
 * answer other than OK comes from the RPC's own checks, never from a malformed call. An RPC
 * added to a proto is covered here by the `brand_id` or `id` field its request names, or gets
 * a line in `SPECIFIC` when it needs more.
 */
import { create, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { localDate } from "@adbudget/time";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";

/** What a sample request is about: a brand (in UTC, with a daily budget) and one of its campaigns. */
export interface SampleResources {
  brandId: string;
  campaignId: string;
}

/** A fresh brand with a budget and an always-on campaign, made with `clients` (an admin's). */
export async function sampleResources(
  clients: {
    brands: Client<typeof BrandService>;
    budget: Client<typeof BudgetService>;
    campaigns: Client<typeof CampaignService>;
  },
  tag: string,
): Promise<SampleResources> {
  const { brand } = await clients.brands.createBrand({ name: `${tag} ${Math.random()}`, timeZone: "UTC" });
  if (brand === undefined) throw new Error("CreateBrand answered no brand");
  await clients.budget.setBudget({ brandId: brand.id, dailyLimitMicros: 1_000_000_000n });
  const { campaign } = await clients.campaigns.createCampaign({
    brandId: brand.id,
    name: tag,
    schedule: { windows: [{ daysOfWeek: [1, 2, 3, 4, 5, 6, 7], start: "00:00", end: "24:00" }] },
  });
  if (campaign === undefined) throw new Error("CreateCampaign answered no campaign");
  return { brandId: brand.id, campaignId: campaign.id };
}

/** A valid request of `method` about `r`, at the services' `now` (its brand is in UTC). */
export function sampleRequest(method: DescMethod, r: SampleResources, now: number): Message {
  const today = localDate(now, "UTC");
  const event = {
    eventId: `sample-${Math.random()}`,
    brandId: r.brandId,
    campaignId: r.campaignId,
    amountMicros: 1n,
    occurredAt: timestampFromMs(now),
  };
  const SPECIFIC: Record<string, Record<string, unknown>> = {
    CreateBrand: { name: `Created ${Math.random()}` },
    UpdateBrand: { brand: { id: r.brandId, name: `Renamed ${Math.random()}` }, updateMask: { paths: ["name"] } },
    SetBudget: { brandId: r.brandId, dailyLimitMicros: 2_000_000_000n },
    RecordSpend: event,
    RecordSpendBatch: { events: [event] },
    CreateCampaign: { brandId: r.brandId, name: "New" },
    UpdateCampaign: { campaign: { id: r.campaignId, name: "Renamed" }, updateMask: { paths: ["name"] } },
    ListCampaignStateChanges: { campaignId: r.campaignId },
    ListCampaignChanges: { campaignId: r.campaignId },
    GetCampaignSpend: { brandId: r.brandId, campaignId: r.campaignId },
    SetDaypartState: {
      campaignId: r.campaignId,
      inWindow: true,
      asOfTime: timestampFromMs(now),
      sourceId: "sample",
      scheduleVersion: 1n,
    },
    OpenBudgetPeriod: { brandId: r.brandId, period: { kind: PeriodKind.DAY, start: today }, sourceId: "sample" },
    OpenBudgetPeriods: {
      brandId: r.brandId,
      periods: [{ period: { kind: PeriodKind.DAY, start: today } }],
      sourceId: "sample",
    },
    ListBrands: {},
  };
  const byField = method.input.fields.some((f) => f.name === "brand_id")
    ? { brandId: r.brandId }
    : { id: method.parent.name.startsWith("Campaign") ? r.campaignId : r.brandId };
  // `create` takes the init of `method.input`, which the descriptor alone cannot type.
  return create(method.input, (SPECIFIC[method.name] ?? byField) as never);
}

/**
 * Calls `method` of `service` with `request` over `transport`: "OK", or the code it failed with.
 * A server stream counts as answered at its first message (then it is cancelled: only that
 * cancellation is OK, not one that came before any message).
 */
export async function callMethod(
  service: DescService,
  method: DescMethod,
  transport: Transport,
  request: Message,
): Promise<Code | "OK"> {
  // A client of a descriptor known only at run time: its methods by local name.
  const client = createClient(service, transport) as unknown as Record<string, (r: unknown, o: unknown) => unknown>;
  const call = client[method.localName];
  if (call === undefined) throw new Error(`no method ${method.localName} on the client of ${service.typeName}`);
  let answered = false;
  try {
    if (method.methodKind === "server_streaming") {
      const abort = new AbortController();
      for await (const _ of call(request, { signal: abort.signal, timeoutMs: 5000 }) as AsyncIterable<unknown>) {
        answered = true;
        abort.abort();
        break;
      }
    } else {
      await call(request, { timeoutMs: 10_000 });
    }
    return "OK";
  } catch (err) {
    const e = ConnectError.from(err);
    return e.code === Code.Canceled && answered ? "OK" : e.code;
  }
}
