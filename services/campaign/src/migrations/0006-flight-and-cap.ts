import { Migration } from "@mikro-orm/migrations";

/**
 * Flight dates and the campaign cap (issue 15).
 *
 * - `start_date`, `end_date`: the flight, local days of the brand's zone (null = open-ended);
 *   `flight` is the stored phase (@adbudget/time FlightPhase: 0 during, 1 before, 2 after),
 *   written when the dates change and by the campaign's clock at the flight's instants, like
 *   `in_daypart`, so every other write judges the campaign by the phase its clock applied.
 * - `daily_limit_micros`: the cap on the campaign's own spend per brand day (null = none).
 * - `cap_day`, `cap_exhausted`, `cap_seq`: the budget service's last cap event of the campaign
 *   (the brand day it is about, its state, its sequence): the cap pauses the campaign only while
 *   `cap_day` is the brand's current day, so the next day's reset frees it with nothing to clear.
 */
export class Migration0006FlightAndCap extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table campaigns
      add column start_date date,
      add column end_date date,
      add column flight smallint not null default 0,
      add column daily_limit_micros bigint check (daily_limit_micros >= 0),
      add column cap_day date,
      add column cap_exhausted boolean not null default false,
      add column cap_seq bigint not null default 0`);
  }

  override async down(): Promise<void> {
    this
      .addSql(`alter table campaigns drop column if exists start_date, drop column if exists end_date, drop column if exists flight,
      drop column if exists daily_limit_micros, drop column if exists cap_day, drop column if exists cap_exhausted, drop column if exists cap_seq`);
  }
}
