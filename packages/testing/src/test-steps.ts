/**
 * Steps that tests of several services take the same way: reading an error as a client sees it,
 * making a brand to work on, watching campaigns, losing events. Each was written out in more than
 * one test file; one copy here keeps them from drifting apart.
 */
import { Code, type Client, type ConnectError } from "@connectrpc/connect";
import { jetstreamManager } from "@nats-io/jetstream";
import { toConnectError } from "@adbudget/kit";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type {
  CampaignService,
  WatchCampaignsResponse,
} from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { eventually } from "./calls.js";
import type { SystemHarness } from "./launcher-in-process.js";
import { testZone } from "./test-clock.js";

/**
 * The field paths of the google.rpc.BadRequest details of an error: what a client is told to fix,
 * which is what validation tests assert (not the message text, which may be reworded).
 */
export function violatedFields(err: ConnectError): string[] {
  return err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
}

/**
 * The gRPC code name a caller would get for `call` ("OK" when it succeeds). Errors go through the
 * services' one error path (toConnectError), so a unit test of a component that throws domain
 * errors checks the status the API would answer, not the class it threw.
 */
export function codeOf(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "OK",
    (err: unknown) => Code[toConnectError(err, "test").error.code],
  );
}

/**
 * The id of a new brand in the tests' zone (testZone). Its name is `label` and a random suffix,
 * since brand names are unique and a test file's brands share one brand service.
 */
export async function newBrand(brands: Client<typeof BrandService>, label: string): Promise<string> {
  const { brand } = await brands.createBrand({ name: `${label} ${Math.random()}`, timeZone: testZone() });
  if (brand === undefined) throw new Error("CreateBrand answered no brand");
  return brand.id;
}

/**
 * Collects the WatchCampaigns stream of `brandId` in the background: `seen` grows as messages
 * come, `stop` ends the stream and rethrows anything it failed with other than being stopped
 * (so a stream that breaks on its own fails the test).
 */
export function watchCampaigns(
  campaigns: Client<typeof CampaignService>,
  brandId: string,
): { seen: WatchCampaignsResponse[]; stop(): Promise<void> } {
  const seen: WatchCampaignsResponse[] = [];
  const abort = new AbortController();
  const done = (async () => {
    try {
      for await (const m of campaigns.watchCampaigns({ brandId }, { signal: abort.signal })) seen.push(m);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return {
    seen,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

/**
 * Runs `change` with the campaign service down and purges the budget stream before it comes back:
 * the budget events `change` published are lost, as after an outage past the stream's retention.
 * What the campaigns then learn of the change, they learn from the clocks' reconciliation or
 * period opening, which is what the tests that use this check.
 */
export async function loseBudgetEvents(h: SystemHarness, change: () => Promise<unknown>): Promise<void> {
  await h.stopCampaign();
  await change();
  await eventually(async () => (await h.budgetApp.relay.pending()) === 0, 10_000, "published");
  await (await jetstreamManager(h.nc)).streams.purge(h.budgetStream);
  await h.startCampaign();
}

/** One unit of a currency in micros (amounts in tests read as `5n * USD`). */
export const USD = 1_000_000n;

/**
 * RecordSpend with a new event id on every call (`<label>-<n>-<campaign>`): each call is new
 * spend, never a retry of an earlier one. `budget` is read at each call, so a test file may make
 * this before its harness starts.
 */
export function spendOnce(budget: () => Client<typeof BudgetService>, label: string) {
  let n = 0;
  return (brandId: string, campaignId: string, amountMicros: bigint) =>
    budget().recordSpend({ eventId: `${label}-${n++}-${campaignId}`, brandId, campaignId, amountMicros });
}
