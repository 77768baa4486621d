/**
 * @adbudget/testing: what tests of every package share, in one workspace package that no service
 * image contains. Infrastructure helpers (a database per test, a TCP proxy that cuts and
 * restores connections, free ports, tool binaries, a Temporal dev server, the tests' clock) and
 * the harnesses that start real services on real ports: one service, the whole system, the
 * whole system with the clocks worker. The system's launchers, one declaration of what a system
 * is (launcher-plan.ts) started in this process (launcher-in-process.ts) or as processes, any
 * replicas (launcher-processes.ts, launcher-process.ts): the tests, e2e, chaos, the benches
 * and `npm start` start it through them.
 */
export * from "./databases.js";
export * from "./tcp-proxy.js";
export * from "./ports.js";
export * from "./calls.js";
export * from "./test-steps.js";
export * from "./test-clock.js";
export * from "./tools.js";
export * from "./nats.js";
export * from "./nats-server.js";
export * from "./nats-jwt.js";
export * from "./temporal-dev-server.js";
export * from "./brand.js";
export * from "./budget.js";
export * from "./launcher-plan.js";
export * from "./launcher-process.js";
export * from "./launcher-in-process.js";
export * from "./launcher-processes.js";
export * from "./clocks.js";
export * from "./auth.js";
export * from "./serving-model.js";
export * from "./intl-wall-clock.js";
export * from "./latch.js";
export * from "./model-schedule.js";
export * from "./model-run.js";
export * from "./sample-requests.js";
export * from "./served-services.js";
export * from "./balancer.js";
export * from "./nats-cluster.js";
export * from "./pg-failover.js";
export * from "./pg-tools.js";
export * from "./sdk-system.js";
