import { INFRASTRUCTURE } from "@adbudget/topology";

/** The NATS server of the tests (JetStream on); each test uses its own subject prefix and streams. */
export const NATS_URL = process.env[INFRASTRUCTURE.nats.env] ?? INFRASTRUCTURE.nats.default;
