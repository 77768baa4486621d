/**
 * Who may do what on NATS, from what a workload does: each workload's user is allowed the
 * narrowest subjects that still let its own work run, and nothing else (an allow list is default
 * deny). Which workload does what is the system's declaration, handed in (NatsUserSpec); the rules
 * that turn it into subjects are here:
 *
 * - **Publishes its events into a stream it owns** (outbox relay, JetStream publish): publish on
 *   those event subjects only; `$JS.API.INFO` (the client's JetStream check),
 *   `$JS.API.STREAM.INFO.<stream>` and `$JS.API.STREAM.CREATE.<stream>` (created if missing).
 *   Nobody may update, purge or delete a stream, or touch a stream that is not its own or one it
 *   reads.
 * - **Reads a stream with a durable pull consumer**: `$JS.API.STREAM.INFO.<stream>` (lookup only:
 *   only the owner creates its stream, a consumer started first retries until it exists),
 *   `$JS.API.CONSUMER.INFO.<stream>.<durable>`, `$JS.API.CONSUMER.CREATE.<stream>.<durable>.<filter>`
 *   (the create API of nats-server 2.9 and later, which the client uses for a single filter;
 *   servers before 2.9 are not supported), `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>` (pull),
 *   `$JS.ACK.<stream>.<durable>.>` (ack, nak). Only its own durable names and filter: it cannot
 *   pull from, ack for or redefine another's consumer.
 * - **Replies**: subscribe on `<inbox>.>` only, the workload's own inbox prefix (the kit sets it
 *   when credentials are configured, see nats-auth.ts). JetStream acks, API answers and pulled
 *   messages arrive there, so no workload can read another's replies or deliveries. Nobody needs
 *   to publish to an inbox (the servers answer, the workloads only ask).
 * - **Core subscriptions**: only those declared (a live feed of the workload's own events);
 *   consumers pull.
 *
 * `natsAuthorizationConfig` renders users with these permissions as a nats-server
 * `authorization` block (by password or nkey, plus users with explicit permissions such as an
 * operator's).
 */

/** What one workload does on NATS, in the terms the permissions are about. */
export interface NatsUserSpec {
  /** Its inbox prefix (natsInboxPrefix): it may subscribe to `<inbox>.>`. */
  inbox: string;
  /** The streams it owns, each with the event subjects it publishes into it. */
  owns: readonly { stream: string; publishes: readonly string[] }[];
  /** The streams it reads, each through one durable pull consumer with one filter subject. */
  reads: readonly { stream: string; durable: string; filter: string }[];
  /** Core subscriptions besides its inbox (live feeds). */
  subscribes: readonly string[];
}

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** Publishing events to a stream the workload owns. */
function owner(stream: string, eventSubjects: readonly string[]): string[] {
  return [...eventSubjects, `$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`];
}

/** Reading a stream through one durable pull consumer with a filter subject. */
function reader(stream: string, durable: string, filter: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}.${filter}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
  ];
}

/** The permissions of one workload's user (see the rules above). */
export function natsPermissions(spec: NatsUserSpec): NatsPermissions {
  return {
    publish: [
      "$JS.API.INFO",
      ...spec.owns.flatMap((o) => owner(o.stream, o.publishes)),
      ...spec.reads.flatMap((r) => reader(r.stream, r.durable, r.filter)),
    ],
    subscribe: [`${spec.inbox}.>`, ...spec.subscribes],
  };
}

/** What a spec allows, a line each, for a person (the comment above each user of the file). */
export function describeNatsUser(spec: NatsUserSpec): string {
  const parts = [
    ...spec.owns.map((o) => `publishes ${o.publishes.join(", ")} to ${o.stream}`),
    ...spec.reads.map((r) => `pulls ${r.stream} (${r.durable}, ${r.filter})`),
    ...spec.subscribes.map((s) => `subscribes ${s}`),
  ];
  return parts.length === 0 ? "its inbox only" : parts.join("\n");
}

/**
 * How a user proves who it is in the server's config: a literal password (tests), a password
 * read by nats-server from an environment variable (`$NAME` in the file: no secret in it), or a
 * user nkey's public key (`U...`; the workload holds the seed, NATS_NKEY_SEED_FILE).
 */
export type NatsUserSecret = { password: string } | { passwordVariable: string } | { nkey: string };

/** One user of the authorization block. */
export type NatsUser = { user: string; description: string; permissions: NatsPermissions } & NatsUserSecret;

export interface NatsAuthorizationOptions {
  users: readonly NatsUser[];
  /** A comment put at the top of the file. */
  header?: string;
}

/** A nats-server `authorization { users = [...] }` block of `users`. */
export function natsAuthorizationConfig(o: NatsAuthorizationOptions): string {
  const q = (s: string) => JSON.stringify(s);
  const list = (subjects: string[]) =>
    `{\n          allow: [\n${subjects.map((s) => `            ${q(s)}`).join("\n")}\n          ]\n        }`;
  const credential = (u: NatsUser) => {
    if ("nkey" in u) return `nkey: ${q(u.nkey)}`;
    const password = "password" in u ? q(u.password) : `$${u.passwordVariable}`;
    return `user: ${q(u.user)}\n      password: ${password}`;
  };
  const users = o.users.map((u) =>
    [
      ...u.description.split("\n").map((l) => `    # ${l}`),
      "    {",
      `      ${credential(u)}`,
      "      permissions: {",
      `        publish: ${list(u.permissions.publish)}`,
      `        subscribe: ${list(u.permissions.subscribe)}`,
      "      }",
      "    }",
    ].join("\n"),
  );
  const header =
    o.header === undefined
      ? ""
      : `${o.header
          .split("\n")
          .map((l) => (l === "" ? "#" : `# ${l}`))
          .join("\n")}\n`;
  return `${header}authorization {\n  users = [\n${users.join("\n")}\n  ]\n}\n`;
}
