/** The NATS server of the tests (JetStream on); each test uses its own subject prefix and streams. */
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
