/**
 * The defaults of a made-up "orders" service, handed to readServiceConfig by the tests of what
 * it reads (not exported from the package: tests only). The tests of TLS and of NATS credentials
 * read their settings on top of the same service; one copy keeps them describing one service.
 */
export const ORDERS_DEFAULTS = {
  name: "orders",
  prefix: "ORDERS",
  port: 7001,
  metricsPort: 7401,
  database: "orders",
  pgUrl: "postgres://postgres@127.0.0.1:5432",
  natsUrl: "nats://127.0.0.1:4222",
};
