/**
 * Who may do what on NATS: one user per workload (brand, budget, campaign, clocks), allowed the
 * narrowest subjects that still let its own work run, and nothing else (an allow list is
 * default deny). The rules, by what a workload does:
 *
 * - **Publishes its events** (outbox relay, JetStream publish): publish on its own event subjects
 *   only (brand `<prefix>.brand.changed.*`; budget `<prefix>.budget.exhausted.*`,
 *   `<prefix>.budget.replenished.*`, `<prefix>.budget.threshold.*` and the campaign caps'
 *   `<prefix>.budget.campaign_exhausted.*` / `campaign_replenished.*`; campaign `<prefix>.campaign.state.*`). A new event type
 *   needs its subject added here.
 * - **Owns its stream** (created if missing): `$JS.API.INFO` (the client's JetStream check),
 *   `$JS.API.STREAM.INFO.<own stream>`, `$JS.API.STREAM.CREATE.<own stream>`. Nobody may update,
 *   purge or delete a stream, or touch a stream that is not its own or one it reads.
 * - **Reads a stream with a durable pull consumer**: `$JS.API.STREAM.INFO.<stream>` (lookup only:
 *   only the owner creates its stream, a consumer started first retries until it exists),
 *   `$JS.API.CONSUMER.INFO.<stream>.<durable>`, `$JS.API.CONSUMER.CREATE.<stream>.<durable>.<filter>`
 *   (the create API of nats-server 2.9 and later, which the client uses for a single filter;
 *   servers before 2.9 are not supported), `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>` (pull),
 *   `$JS.ACK.<stream>.<durable>.>` (ack, nak). Only its own durable names and filter: it cannot
 *   pull from, ack for or redefine another's consumer.
 *   campaign reads the budget stream (`campaign-budget-events`) and the brand stream
 *   (`campaign-brand-events`); budget reads the campaign stream (`budget-campaign-events`, for
 *   the campaigns' caps); clocks reads the brand stream (`clocks-brand-events`) and the
 *   campaign stream (`clocks-campaign-events`).
 * - **Replies**: subscribe on `_INBOX.<workload>.>` only, the workload's own inbox prefix (the
 *   kit sets it when credentials are configured, see nats-auth.ts). JetStream acks, API answers
 *   and pulled messages arrive there, so no workload can read another's replies or deliveries.
 *   Nobody needs to publish to an inbox (the servers answer, the workloads only ask).
 * - **Core subscriptions**: campaign's WatchCampaigns feed subscribes `<prefix>.campaign.state.>`
 *   (its own events). No other workload subscribes to event subjects: consumers pull.
 *
 * `natsAuthorizationConfig` renders these as a nats-server `authorization` block (one user per
 * workload, by password or nkey, plus optional extra users such as an operator's);
 * `scripts/nats-auth-conf.ts` prints it for the settings in the environment, and
 * deploy/local/nats-auth.conf is its output for the defaults.
 */
import type { EnvReader } from "./config.js";

export const NATS_WORKLOADS = ["brand", "budget", "campaign", "clocks"] as const;
export type NatsWorkload = (typeof NATS_WORKLOADS)[number];

/** The names the permissions are about: the subject prefix, the streams, the durable consumers. */
export interface NatsTopology {
  /** EVENT_SUBJECT_PREFIX. */
  prefix: string;
  /** BRAND_STREAM, BUDGET_STREAM, CAMPAIGN_STREAM. */
  streams: { brand: string; budget: string; campaign: string };
  /** CAMPAIGN_BUDGET_CONSUMER, CAMPAIGN_BRAND_CONSUMER, CLOCKS_BRAND_CONSUMER, CLOCKS_CAMPAIGN_CONSUMER. */
  consumers: { campaignBudget: string; campaignBrand: string; clocksBrand: string; clocksCampaign: string; budgetCampaign: string };
}

/** Reads the topology from the same variables (and defaults) the services and the worker read. */
export function readNatsTopology(reader: EnvReader): NatsTopology {
  return {
    prefix: reader.token("EVENT_SUBJECT_PREFIX", "adbudget"),
    streams: {
      brand: reader.token("BRAND_STREAM", "ADBUDGET_BRAND"),
      budget: reader.token("BUDGET_STREAM", "ADBUDGET_BUDGET"),
      campaign: reader.token("CAMPAIGN_STREAM", "ADBUDGET_CAMPAIGN"),
    },
    consumers: {
      campaignBudget: reader.token("CAMPAIGN_BUDGET_CONSUMER", "campaign-budget-events"),
      campaignBrand: reader.token("CAMPAIGN_BRAND_CONSUMER", "campaign-brand-events"),
      clocksBrand: reader.token("CLOCKS_BRAND_CONSUMER", "clocks-brand-events"),
      clocksCampaign: reader.token("CLOCKS_CAMPAIGN_CONSUMER", "clocks-campaign-events"),
      budgetCampaign: reader.token("BUDGET_CAMPAIGN_CONSUMER", "budget-campaign-events"),
    },
  };
}

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** Publishing events to a stream the workload owns. */
function owner(stream: string, eventSubjects: string[]): string[] {
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
export function natsWorkloadPermissions(workload: NatsWorkload, t: NatsTopology): NatsPermissions {
  const p = t.prefix;
  const inbox = `_INBOX.${workload}.>`;
  const common = ["$JS.API.INFO"];
  switch (workload) {
    case "brand":
      return { publish: [...common, ...owner(t.streams.brand, [`${p}.brand.changed.*`])], subscribe: [inbox] };
    case "budget":
      return {
        publish: [
          ...common,
          ...owner(t.streams.budget, [
            `${p}.budget.exhausted.*`, `${p}.budget.replenished.*`, `${p}.budget.threshold.*`,
            `${p}.budget.campaign_exhausted.*`, `${p}.budget.campaign_replenished.*`,
          ]),
          ...reader(t.streams.campaign, t.consumers.budgetCampaign, `${p}.campaign.>`),
        ],
        subscribe: [inbox],
      };
    case "campaign":
      return {
        publish: [
          ...common,
          ...owner(t.streams.campaign, [`${p}.campaign.state.*`]),
          ...reader(t.streams.budget, t.consumers.campaignBudget, `${p}.budget.>`),
          ...reader(t.streams.brand, t.consumers.campaignBrand, `${p}.brand.>`),
        ],
        subscribe: [inbox, `${p}.campaign.state.>`],
      };
    case "clocks":
      return {
        publish: [
          ...common,
          ...reader(t.streams.brand, t.consumers.clocksBrand, `${p}.brand.>`),
          ...reader(t.streams.campaign, t.consumers.clocksCampaign, `${p}.campaign.>`),
        ],
        subscribe: [inbox],
      };
  }
}

/**
 * How a user proves who it is in the server's config: a literal password (tests), a password
 * read by nats-server from an environment variable (`$NAME` in the file: no secret in it), or a
 * user nkey's public key (`U...`; the workload holds the seed, NATS_NKEY_SEED_FILE).
 */
export type NatsUserSecret = { password: string } | { passwordVariable: string } | { nkey: string };

export interface NatsAuthorizationOptions {
  topology: NatsTopology;
  /** The user name and secret of each workload (default name: the workload's). */
  users: Record<NatsWorkload, { user?: string } & NatsUserSecret>;
  /** Further users with explicit permissions (an operator's `admin` with `>`, say). */
  extraUsers?: ({ user?: string; description?: string; permissions: NatsPermissions } & NatsUserSecret)[];
  /** A comment put at the top of the file. */
  header?: string;
}

/** A nats-server `authorization { users = [...] }` block for the workloads (see the rules above). */
export function natsAuthorizationConfig(o: NatsAuthorizationOptions): string {
  const q = (s: string) => JSON.stringify(s);
  const list = (subjects: string[]) => `{\n          allow: [\n${subjects.map((s) => `            ${q(s)}`).join("\n")}\n          ]\n        }`;
  const credential = (s: NatsUserSecret & { user?: string }, name: string) => {
    if ("nkey" in s) return `nkey: ${q(s.nkey)}`;
    const password = "password" in s ? q(s.password) : `$${s.passwordVariable}`;
    return `user: ${q(s.user ?? name)}\n      password: ${password}`;
  };
  const user = (what: string, secret: NatsUserSecret & { user?: string }, name: string, p: NatsPermissions) =>
    [
      ...what.split("\n").map((l) => `    # ${l}`),
      "    {",
      `      ${credential(secret, name)}`,
      "      permissions: {",
      `        publish: ${list(p.publish)}`,
      `        subscribe: ${list(p.subscribe)}`,
      "      }",
      "    }",
    ].join("\n");
  const t = o.topology;
  const what: Record<NatsWorkload, string> = {
    brand: `brand service: publishes ${t.prefix}.brand.changed.<id> to ${t.streams.brand}`,
    budget: `budget service: publishes ${t.prefix}.budget.{exhausted,replenished}.<brandId> to ${t.streams.budget}`,
    campaign:
      `campaign service: publishes ${t.prefix}.campaign.state.<id> to ${t.streams.campaign}, pulls ${t.streams.budget} ` +
      `(${t.consumers.campaignBudget})\nand ${t.streams.brand} (${t.consumers.campaignBrand}); WatchCampaigns subscribes its own events`,
    clocks: `clocks worker: pulls ${t.streams.brand} (${t.consumers.clocksBrand}) and ${t.streams.campaign} (${t.consumers.clocksCampaign})`,
  };
  const users = [
    ...NATS_WORKLOADS.map((w) => user(what[w], o.users[w], w, natsWorkloadPermissions(w, t))),
    ...(o.extraUsers ?? []).map((e, i) => user(e.description ?? "extra user", e, e.user ?? `extra${i}`, e.permissions)),
  ];
  const header = o.header === undefined ? "" : `${o.header.split("\n").map((l) => (l === "" ? "#" : `# ${l}`)).join("\n")}\n`;
  return `${header}authorization {\n  users = [\n${users.join("\n")}\n  ]\n}\n`;
}
