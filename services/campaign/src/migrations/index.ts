import { Migration0001Campaigns } from "./0001-campaigns.js";

/** Every migration of the campaign service, in order. Append; never edit one that shipped. */
export const migrations = [{ name: "0001-campaigns", class: Migration0001Campaigns }];
