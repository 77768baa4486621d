import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { JsMsg } from "@nats-io/jetstream";
import { decodeOrSkip, type Logger, type Now } from "@adbudget/kit";
import { BrandChangeType, BrandChangedEventSchema } from "@adbudget/proto/adbudget/brand/v1/events_pb.js";
import {
  BudgetEventType,
  BudgetPeriodEventSchema,
  CampaignCapEventSchema,
  CampaignThrottleEventSchema,
  type CampaignCapEvent,
} from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { daysInMonth, formatDate } from "@adbudget/time";
import { applyBrand } from "./brand-changes.js";
import { applyBudgetSignal, applyCap, applyLifetime } from "./budget-signals.js";
import type { Cause } from "./campaign-rows.js";
import type { CampaignStore } from "./campaign-store.js";
import { applyThrottle } from "./throttle.js";

/*
 * The handlers of the events this service consumes (durable JetStream consumers, see app.ts):
 * budget events (exhausted / replenished) and brand events (archived, zone). Each applies one
 * event in one transaction and is idempotent: consumers redeliver until the ack.
 */

/**
 * The cause of a change an event brings: its kind, the event (the NATS message id is the audit
 * source), and the caller the event names as its cause.
 */
function causeOf(cause: string, event: { eventId: string; principal: string; requestId: string }): Cause {
  return { cause, sourceId: `nats:${event.eventId}`, principal: event.principal, requestId: event.requestId };
}

/**
 * Applies one budget event (exhausted / replenished) to the brand's flags and campaigns, in
 * one transaction. Idempotent and order-insensitive: the flag keeps its period and the highest
 * sequence applied, so a replay, a redelivery or a late event for an older period changes
 * nothing. The NATS message id is the audit source.
 */
/** Subjects of budget period events: `<prefix>.budget.exhausted|replenished.<brandId>`. */
const PERIOD_EVENT = /\.budget\.(exhausted|replenished)\.[^.]+$/;

/** Subjects of campaign cap events: `<prefix>.budget.campaign_exhausted|campaign_replenished.<brandId>`. */
const CAP_EVENT = /\.budget\.campaign_(exhausted|replenished)\.[^.]+$/;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A date that exists (the 31st of a 30-day month does not), in the years PostgreSQL's date takes. */
function isCalendarDate(d: { year: number; month: number; day: number }): boolean {
  return (
    Number.isInteger(d.year) &&
    d.year >= 1 &&
    d.year <= 9999 &&
    d.month >= 1 &&
    d.month <= 12 &&
    d.day >= 1 &&
    d.day <= daysInMonth(d.year, d.month)
  );
}

/** Subjects of pacing throttle events: `<prefix>.budget.throttle.<brandId>`. */
const THROTTLE_EVENT = /\.budget\.throttle\.[^.]+$/;

export function budgetEventHandler(store: CampaignStore, logger: Logger, now: Now) {
  const caps = capEventHandler(store, logger, now);
  const throttles = throttleEventHandler(store, logger, now);
  return async (msg: JsMsg): Promise<void> => {
    if (CAP_EVENT.test(msg.subject)) return caps(msg);
    if (THROTTLE_EVENT.test(msg.subject)) return throttles(msg);
    // The budget stream also carries threshold alerts (`.budget.threshold.<brand>`), another
    // message type: only exhausted and replenished events move flags.
    if (!PERIOD_EVENT.test(msg.subject)) return;
    const event = decodeOrSkip(BudgetPeriodEventSchema, msg, logger, "budget event");
    if (event === undefined) return;
    const kind = event.period?.kind === PeriodKind.MONTH ? PeriodKind.MONTH : PeriodKind.DAY;
    const period = formatDate(event.period?.start ?? { year: 0, month: 0, day: 0 });
    const nowMs = now();
    const { changes } = await store.tx(async (client) => {
      const changes = await applyBudgetSignal(
        client,
        event.brandId,
        kind,
        { kind: "event", period, exhausted: event.type === BudgetEventType.EXHAUSTED, seq: event.sequence },
        causeOf(event.type === BudgetEventType.EXHAUSTED ? "budget.exhausted" : "budget.replenished", event),
        new Date(nowMs),
      );
      return { result: undefined, changes };
    }, nowMs);
    logger.debug({ brandId: event.brandId, period, kind, changed: changes.length }, "budget event applied");
  };
}

/**
 * Applies one brand event (created / updated / archived): the campaign service's view of the
 * brand (archived, zone) follows, and the brand's campaigns are recomputed. Ordered by the
 * brand's version: an older version than the one stored changes nothing.
 */
export function brandEventHandler(store: CampaignStore, logger: Logger, now: Now) {
  return async (msg: JsMsg): Promise<void> => {
    const event = decodeOrSkip(BrandChangedEventSchema, msg, logger, "brand event");
    if (event === undefined) return;
    const brand = event.brand;
    if (brand === undefined) return;
    const nowMs = now();
    await store.tx(async (client) => {
      const changes = await applyBrand(
        client,
        { id: brand.id, archived: brand.archived, timeZone: brand.timeZone, version: event.version },
        causeOf(event.type === BrandChangeType.ARCHIVED ? "brand.archived" : "brand.updated", event),
        new Date(nowMs),
      );
      return { result: undefined, changes };
    }, nowMs);
  };
}

/**
 * Applies one campaign cap event (CampaignCapEvent): the campaign's cap flag for the brand day it
 * names, ordered by day and sequence (budget-signals.ts, applyCap), so only that campaign stops, and
 * only while that day is the brand's current one; or, for a lifetime event, its lifetime flag,
 * ordered by sequence (applyLifetime).
 */
function capEventHandler(store: CampaignStore, logger: Logger, now: Now) {
  return async (msg: JsMsg): Promise<void> => {
    const event = decodeOrSkip(CampaignCapEventSchema, msg, logger, "campaign cap event");
    if (event === undefined) return;
    if (event.lifetime) return lifetimeEvent(store, logger, now, event);
    const start = event.period?.start;
    if (start === undefined || !UUID.test(event.campaignId)) return;
    const exhausted = event.type === BudgetEventType.EXHAUSTED;
    const nowMs = now();
    const { changes } = await store.tx(async (client) => {
      const changes = await applyCap(
        client,
        event.campaignId,
        { day: formatDate(start), exhausted, seq: event.sequence },
        causeOf(exhausted ? "campaign_budget.exhausted" : "campaign_budget.replenished", event),
        new Date(nowMs),
      );
      return { result: undefined, changes };
    }, nowMs);
    logger.debug({ campaignId: event.campaignId, exhausted, changed: changes.length }, "campaign cap event applied");
  };
}

/** A lifetime event (CampaignCapEvent with `lifetime`): the campaign's lifetime flag. */
async function lifetimeEvent(store: CampaignStore, logger: Logger, now: Now, event: CampaignCapEvent): Promise<void> {
  // A malformed id is dropped: redelivering it would fail the same way for ever.
  if (!UUID.test(event.campaignId)) return;
  const exhausted = event.type === BudgetEventType.EXHAUSTED;
  const nowMs = now();
  const { changes } = await store.tx(async (client) => {
    const changes = await applyLifetime(
      client,
      event.campaignId,
      { exhausted, seq: event.sequence },
      causeOf(exhausted ? "lifetime_budget.exhausted" : "lifetime_budget.replenished", event),
      new Date(nowMs),
    );
    return { result: undefined, changes };
  }, nowMs);
  logger.debug({ campaignId: event.campaignId, exhausted, changed: changes.length }, "campaign lifetime event applied");
}

/**
 * Applies one pacing throttle event (CampaignThrottleEvent) to its campaign (throttle.ts): ordered
 * by sequence, published to watchers as a throttle-only change.
 */
function throttleEventHandler(store: CampaignStore, logger: Logger, now: Now) {
  return async (msg: JsMsg): Promise<void> => {
    const event = decodeOrSkip(CampaignThrottleEventSchema, msg, logger, "throttle event");
    if (event === undefined) return;
    const start = event.period?.start;
    const expire = event.expireTime;
    // A malformed event (no day, an impossible date, no expiry) is dropped: redelivering it
    // would fail the same way for ever.
    if (start === undefined || expire === undefined || !isCalendarDate(start)) return;
    if (!UUID.test(event.campaignId) || !UUID.test(event.brandId)) return;
    const nowMs = now();
    const { changes } = await store.tx(async (client) => {
      const changes = await applyThrottle(client, {
        brandId: event.brandId,
        campaignId: event.campaignId,
        day: formatDate(start),
        throttle: event.throttle,
        until: new Date(timestampMs(expire)),
        seq: event.sequence,
      });
      return { result: undefined, changes };
    }, nowMs);
    logger.debug(
      { campaignId: event.campaignId, throttle: event.throttle, changed: changes.length },
      "throttle applied",
    );
  };
}
