export * from "./calendar.js";
export * from "./zone.js";
export * from "./daypart.js";
export * from "./flight.js";
export * from "./zone-names.js";
