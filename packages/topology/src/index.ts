export * from "./declaration.js";
export * from "./read-topology.js";
