import { Migration0001Ledger } from "./0001-ledger.js";
import { Migration0002OutboxTrace } from "./0002-outbox-trace.js";
import { Migration0003BrandScopedLedger } from "./0003-brand-scoped-ledger.js";
import { Migration0004BudgetChanges } from "./0004-budget-changes.js";
import { Migration0005BudgetAlerts } from "./0005-budget-alerts.js";
import { Migration0006CampaignDaySpend } from "./0006-campaign-day-spend.js";
import { Migration0007CampaignSettings } from "./0007-campaign-settings.js";
import { Migration0008CampaignDayCapSeq } from "./0008-campaign-day-cap-seq.js";
import { Migration0009SpendReporter } from "./0009-spend-reporter.js";
import { Migration0010AlertChanges } from "./0010-alert-changes.js";
import { Migration0011Pacing } from "./0011-pacing.js";
import { Migration0012Lifetime } from "./0012-lifetime.js";

/** Every migration of the budget service, in order. Append; never edit one that shipped. */
export const migrations = [
  { name: "0001-ledger", class: Migration0001Ledger },
  { name: "0002-outbox-trace", class: Migration0002OutboxTrace },
  { name: "0003-brand-scoped-ledger", class: Migration0003BrandScopedLedger },
  { name: "0004-budget-changes", class: Migration0004BudgetChanges },
  { name: "0005-budget-alerts", class: Migration0005BudgetAlerts },
  { name: "0006-campaign-day-spend", class: Migration0006CampaignDaySpend },
  { name: "0007-campaign-settings", class: Migration0007CampaignSettings },
  { name: "0008-campaign-day-cap-seq", class: Migration0008CampaignDayCapSeq },
  { name: "0009-spend-reporter", class: Migration0009SpendReporter },
  { name: "0010-alert-changes", class: Migration0010AlertChanges },
  { name: "0011-pacing", class: Migration0011Pacing },
  { name: "0012-lifetime", class: Migration0012Lifetime },
];
