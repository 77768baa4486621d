import { describe, expect, it } from "vitest";
import { ConfigError, EnvReader } from "@adbudget/kit";
import { CALLS, CONSUMERS, SERVICES, STREAMS, WORKLOADS, type ConsumerDeclaration } from "./declaration.js";
import { readServiceTopology, readSystemTopology, readWorkerTopology, serviceDefaults } from "./read-topology.js";

/** The problems a read leaves in its reader. */
function problemsOf(read: (reader: EnvReader) => unknown, env: Record<string, string>): string[] {
  const reader = new EnvReader(env);
  read(reader);
  expect(() => reader.done()).toThrow(ConfigError);
  return reader.problems;
}

describe("the declaration", () => {
  it("gives every service its own port, metrics port, database and variables", () => {
    const all = Object.values(SERVICES);
    for (const key of ["envPrefix", "port", "metricsPort", "database", "role"] as const) {
      expect(new Set(all.map((s) => s[key])).size, key).toBe(all.length);
    }
  });

  it("names every stream and durable with a variable of its own, and each default is a valid name", () => {
    const consumers = WORKLOADS.flatMap((w) => Object.values<ConsumerDeclaration>(CONSUMERS[w]));
    const variables = [...Object.values(STREAMS).map((s) => s.env), ...consumers.map((c) => c.env)];
    expect(new Set(variables).size).toBe(variables.length);
    const reader = new EnvReader({});
    readSystemTopology(reader);
    expect(reader.problems).toEqual([]);
  });

  it("filters every consumer within the subjects of the stream it reads, and reads only another's stream", () => {
    for (const w of WORKLOADS) {
      const consumers: Readonly<Record<string, ConsumerDeclaration>> = CONSUMERS[w];
      for (const c of Object.values(consumers)) {
        expect(
          STREAMS[c.stream].subjects.some((s) => c.filter.startsWith(s.slice(0, -1))),
          `${w}: ${c.durable}`,
        ).toBe(true);
        expect(c.stream, `${w} reads its own stream`).not.toBe(w);
      }
    }
  });

  it("publishes each event subject into the owner's stream", () => {
    for (const s of Object.values(STREAMS)) {
      for (const e of s.events)
        expect(
          s.subjects.some((x) => e.startsWith(x.slice(0, -1))),
          e,
        ).toBe(true);
    }
  });

  it("lets no workload call itself", () => {
    for (const w of WORKLOADS) expect(Object.keys(CALLS[w])).not.toContain(w);
  });
});

describe("readServiceTopology", () => {
  it("defaults: the declaration's names, prefixed subjects, the default URLs", () => {
    const reader = new EnvReader({});
    const t = readServiceTopology(reader, "campaign");
    expect(reader.problems).toEqual([]);
    expect(t).toEqual({
      prefix: "adbudget",
      identity: { sub: "service:campaign", role: "campaign-service" },
      stream: { name: "ADBUDGET_CAMPAIGN", subjects: ["adbudget.campaign.>"], replicas: 1 },
      consumers: {
        "budget-events": {
          stream: "ADBUDGET_BUDGET",
          streamSubjects: ["adbudget.budget.>"],
          streamReplicas: 1,
          durable: "campaign-budget-events",
          filterSubject: "adbudget.budget.>",
        },
        "brand-events": {
          stream: "ADBUDGET_BRAND",
          streamSubjects: ["adbudget.brand.>"],
          streamReplicas: 1,
          durable: "campaign-brand-events",
          filterSubject: "adbudget.brand.>",
        },
      },
      urls: { brand: "http://127.0.0.1:50051" },
    });
  });

  it("takes every name from the environment", () => {
    const t = readServiceTopology(
      new EnvReader({
        EVENT_SUBJECT_PREFIX: "t1",
        CAMPAIGN_STREAM: "T1_CAMPAIGN",
        BUDGET_CAMPAIGN_CONSUMER: "caps",
        BRAND_SERVICE_URL: "https://brand:8443",
        CAMPAIGN_SERVICE_URL: "none",
        STREAM_REPLICAS: "3",
      }),
      "budget",
    );
    expect(t.consumers).toEqual({
      "campaign-events": {
        stream: "T1_CAMPAIGN",
        streamSubjects: ["t1.campaign.>"],
        streamReplicas: 3,
        durable: "caps",
        filterSubject: "t1.campaign.>",
      },
    });
    expect(t.stream).toEqual({ name: "ADBUDGET_BUDGET", subjects: ["t1.budget.>"], replicas: 3 });
    // An optional callee set to "none": the service does without it.
    expect(t.urls).toEqual({ brand: "https://brand:8443", campaign: "" });
  });

  it("lists every bad name at once, each naming its variable", () => {
    expect(
      problemsOf((r) => readServiceTopology(r, "campaign"), {
        EVENT_SUBJECT_PREFIX: "a.b",
        BRAND_STREAM: "X>",
        CAMPAIGN_BUDGET_CONSUMER: "a b",
        BRAND_SERVICE_URL: "ftp://x",
        STREAM_REPLICAS: "6",
      }),
    ).toEqual([
      'EVENT_SUBJECT_PREFIX="a.b": letters, digits, - and _ only',
      'STREAM_REPLICAS="6": expected an integer from 1 to 5',
      'CAMPAIGN_BUDGET_CONSUMER="a b": letters, digits, - and _ only',
      'BRAND_STREAM="X>": letters, digits, - and _ only',
      "BRAND_SERVICE_URL: expected a http: or https: URL, got ftp:",
    ]);
  });

  it("reads a stream's variable once, however many consumers read the stream", () => {
    expect(problemsOf(readSystemTopology, { BRAND_STREAM: "a.b" })).toEqual([
      'BRAND_STREAM="a.b": letters, digits, - and _ only',
    ]);
  });

  it("refuses a URL that is not one, even for an optional callee", () => {
    expect(problemsOf((r) => readServiceTopology(r, "brand"), { BUDGET_SERVICE_URL: "budget:50052" })).toEqual([
      "BUDGET_SERVICE_URL: expected a http: or https: URL, got budget:",
    ]);
  });

  it("gives the kit the service's defaults", () => {
    expect(serviceDefaults("budget")).toEqual({
      name: "budget",
      prefix: "BUDGET",
      port: 50052,
      metricsPort: 9452,
      database: "adbudget_budget",
      pgUrl: "postgres://postgres@127.0.0.1:5432",
      natsUrl: "nats://127.0.0.1:4222",
    });
  });
});

describe("readWorkerTopology", () => {
  it("reads the worker's consumers, the three services, NATS and Temporal", () => {
    const reader = new EnvReader({ BRAND_STREAM: "B", CLOCKS_CAMPAIGN_CONSUMER: "cc" });
    const t = readWorkerTopology(reader);
    expect(reader.problems).toEqual([]);
    expect(t).toEqual({
      prefix: "adbudget",
      identity: { sub: "service:clocks", role: "clocks" },
      consumers: {
        "brand-events": {
          stream: "B",
          streamSubjects: ["adbudget.brand.>"],
          streamReplicas: 1,
          durable: "clocks-brand-events",
          filterSubject: "adbudget.brand.>",
        },
        "campaign-events": {
          stream: "ADBUDGET_CAMPAIGN",
          streamSubjects: ["adbudget.campaign.>"],
          streamReplicas: 1,
          durable: "cc",
          filterSubject: "adbudget.campaign.>",
        },
      },
      urls: { brand: "http://127.0.0.1:50051", budget: "http://127.0.0.1:50052", campaign: "http://127.0.0.1:50053" },
      natsUrl: "nats://127.0.0.1:4222",
      temporalAddress: "127.0.0.1:7233",
    });
  });

  it("validates what it used to take as given: stream and durable names, the prefix, Temporal's address", () => {
    expect(
      problemsOf(readWorkerTopology, {
        CAMPAIGN_STREAM: "a.b",
        CLOCKS_BRAND_CONSUMER: "*",
        TEMPORAL_ADDRESS: "temporal",
        CAMPAIGN_SERVICE_URL: "none",
      }),
    ).toEqual([
      "TEMPORAL_ADDRESS=temporal: expected host:port",
      'CLOCKS_BRAND_CONSUMER="*": letters, digits, - and _ only',
      'CAMPAIGN_STREAM="a.b": letters, digits, - and _ only',
      // The worker needs every service: "none" is not a URL for it.
      'CAMPAIGN_SERVICE_URL="none": not a valid URL',
    ]);
  });
});
