import { Migration0001Brands } from "./0001-brands.js";
import { Migration0002Outbox } from "./0002-outbox.js";
import { Migration0003OutboxTrace } from "./0003-outbox-trace.js";
import { Migration0004TimeZoneLock } from "./0004-time-zone-lock.js";
import { Migration0005BrandChanges } from "./0005-brand-changes.js";

/** Every migration of the brand service, in order. Append; never edit one that shipped. */
export const migrations = [
  { name: "0001-brands", class: Migration0001Brands },
  { name: "0002-outbox", class: Migration0002Outbox },
  { name: "0003-outbox-trace", class: Migration0003OutboxTrace },
  { name: "0004-time-zone-lock", class: Migration0004TimeZoneLock },
  { name: "0005-brand-changes", class: Migration0005BrandChanges },
];
