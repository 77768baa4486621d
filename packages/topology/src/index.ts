export * from "./declaration.js";
export * from "./read-topology.js";
export * from "./nats-users.js";
export * from "./access.js";
