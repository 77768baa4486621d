import { Migration } from "@mikro-orm/migrations";
/**
 * `campaign_day_spend.cap_seq`: the sequence of the last cap event of each campaign day (the
 * outbox id, as `budget_periods.event_seq` for the brand's periods). Reconciliation hands the
 * campaign service each capped campaign's state with it, so a state read before an event that
 * committed after it is not taken over that event's.
 */
export class Migration0008CampaignDayCapSeq extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table campaign_day_spend add column cap_seq bigint not null default 0");
  }
  override async down(): Promise<void> {
    this.addSql("alter table campaign_day_spend drop column if exists cap_seq");
  }
}
