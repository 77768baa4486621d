import { Migration0001Campaigns } from "./0001-campaigns.js";
import { Migration0002OutboxTrace } from "./0002-outbox-trace.js";
import { Migration0003PeriodFlags } from "./0003-period-flags.js";
import { Migration0004ChangePrincipal } from "./0004-change-principal.js";
import { Migration0005NextChange } from "./0005-next-change.js";
import { Migration0006FlightAndCap } from "./0006-flight-and-cap.js";
import { Migration0007CapFlagsPerDay } from "./0007-cap-flags-per-day.js";
import { Migration0008CampaignChanges } from "./0008-campaign-changes.js";
import { Migration0009Throttle } from "./0009-throttle.js";
import { Migration0010Lifetime } from "./0010-lifetime.js";

/** Every migration of the campaign service, in order. Append; never edit one that shipped. */
export const migrations = [
  { name: "0001-campaigns", class: Migration0001Campaigns },
  { name: "0002-outbox-trace", class: Migration0002OutboxTrace },
  { name: "0003-period-flags", class: Migration0003PeriodFlags },
  { name: "0004-change-principal", class: Migration0004ChangePrincipal },
  { name: "0005-next-change", class: Migration0005NextChange },
  { name: "0006-flight-and-cap", class: Migration0006FlightAndCap },
  { name: "0007-cap-flags-per-day", class: Migration0007CapFlagsPerDay },
  { name: "0008-campaign-changes", class: Migration0008CampaignChanges },
  { name: "0009-throttle", class: Migration0009Throttle },
  { name: "0010-lifetime", class: Migration0010Lifetime },
];
