/**
 * @adbudget/client: the ad-server SDK (docs/sdk.md). Typed clients of the services with tokens,
 * deadlines and retries; `ServingCache`, which answers whether a campaign may serve from memory
 * and switches it at its `next_change_time`; `SpendReporter`, which batches spend and loses
 * nothing it accepted.
 */
export * from "./tokens.js";
export * from "./transport.js";
export * from "./clients.js";
export * from "./serving-rule.js";
export * from "./serving-cache.js";
export * from "./spend-event.js";
export * from "./spend-reporter.js";
export { JitterBackoff } from "./backoff.js";
