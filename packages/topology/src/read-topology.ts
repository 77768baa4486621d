/**
 * The declaration (declaration.ts) as one workload sees it, with the environment's overrides:
 * read with the caller's EnvReader, so a bad name is listed with every other configuration
 * problem of the process, once, at start. A workload reads only the variables of what it uses
 * (its stream, the streams it consumes, its consumers, the services it calls): a setting meant
 * for another process never stops it.
 */
import { readServiceConfig, type EnvReader, type ServiceConfig, type ServiceDefaults } from "@adbudget/kit";
import {
  CALLS,
  CONSUMERS,
  defaultServiceUrl,
  INFRASTRUCTURE,
  SERVICE_NAMES,
  SERVICES,
  serviceUrlVariable,
  STREAMS,
  STREAM_REPLICAS,
  SUBJECT_PREFIX,
  WORKER,
  type Callee,
  type ConsumerDeclaration,
  type ConsumerName,
  type ServiceName,
  type Workload,
} from "./declaration.js";

/** A stream as configured: its name and its subjects (prefixed). */
export interface StreamSpec {
  name: string;
  subjects: string[];
  /** Servers of the NATS cluster that keep it (STREAM_REPLICAS), as it is created. */
  replicas: number;
}

/** A durable consumer as configured, in the shape of the kit's consumer options. */
export interface DurableSpec {
  stream: string;
  /** The stream's subjects and replicas, to create it if its owner has not yet. */
  streamSubjects: string[];
  streamReplicas: number;
  durable: string;
  filterSubject: string;
}

/** Who a workload is on its calls to the services: the subject and role of its own token. */
export interface Identity {
  sub: string;
  role: string;
}

/** What every workload reads of the topology. */
interface WorkloadTopology<W extends Workload> {
  /** EVENT_SUBJECT_PREFIX: first token of every subject. */
  prefix: string;
  identity: Identity;
  /** Its durable consumers, by name. */
  consumers: { readonly [K in ConsumerName<W>]: DurableSpec };
  /** The URLs of the services it calls; "" for an optional one set to "none". */
  urls: { readonly [S in Callee<W>]: string };
}

/** A service's part: besides the common ones, the stream it owns. */
export interface ServiceTopology<S extends ServiceName> extends WorkloadTopology<S> {
  stream: StreamSpec;
}

/** The clocks worker's part: besides the common ones, where Temporal is. */
export interface WorkerTopology extends WorkloadTopology<typeof WORKER.name> {
  /** TEMPORAL_ADDRESS, host:port. */
  temporalAddress: string;
}

/** The kit's service defaults of `service` (port, metrics port, database, infrastructure URLs). */
export function serviceDefaults(service: ServiceName): ServiceDefaults {
  const s = SERVICES[service];
  return {
    name: service,
    prefix: s.envPrefix,
    port: s.port,
    metricsPort: s.metricsPort,
    database: s.database,
    pgUrl: INFRASTRUCTURE.postgres.default,
    natsUrl: INFRASTRUCTURE.nats.default,
  };
}

/** Reads the topology of `service` (see the file's comment). */
export function readServiceTopology<S extends ServiceName>(reader: EnvReader, service: S): ServiceTopology<S> {
  const names = new TopologyReader(reader);
  return {
    prefix: names.prefix,
    identity: { sub: `service:${service}`, role: SERVICES[service].role },
    stream: names.stream(service),
    consumers: names.consumers(service),
    urls: names.urls(service),
  };
}

/**
 * What every service's config starts from: the settings every service shares (the kit's) and its
 * part of the topology. A service's config extends it with the settings that are its own.
 */
export interface ServiceSettings<S extends ServiceName> extends ServiceConfig {
  /** EVENT_SUBJECT_PREFIX: first token of every subject; tests use their own. */
  readonly subjectPrefix: string;
  /** The stream it owns (`<S>_STREAM`), created if missing; its outbox is published there. */
  readonly stream: StreamSpec;
  /** Who it is on its calls to other services. */
  readonly identity: Identity;
  /** Its durable consumers, shared by its replicas. */
  readonly consumers: ServiceTopology<S>["consumers"];
  /** The URLs of the services it calls (`<SERVICE>_SERVICE_URL`); "" for an optional one set to "none". */
  readonly urls: ServiceTopology<S>["urls"];
}

/** Reads `service`'s shared settings and topology with the caller's reader (which it leaves open). */
export function readServiceSettings<S extends ServiceName>(reader: EnvReader, service: S): ServiceSettings<S> {
  const { prefix, stream, identity, consumers, urls } = readServiceTopology(reader, service);
  return {
    ...readServiceConfig(serviceDefaults(service), reader),
    subjectPrefix: prefix,
    stream,
    identity,
    consumers,
    urls,
  };
}

/** Reads the topology of the clocks worker, and NATS_URL with its default. */
export function readWorkerTopology(reader: EnvReader): WorkerTopology & { natsUrl: string } {
  const names = new TopologyReader(reader);
  const temporalAddress = reader.string(INFRASTRUCTURE.temporal.env, INFRASTRUCTURE.temporal.default);
  if (!/^[^:]+:\d+$/.test(temporalAddress))
    reader.problems.push(`${INFRASTRUCTURE.temporal.env}=${temporalAddress}: expected host:port`);
  return {
    prefix: names.prefix,
    identity: { sub: `service:${WORKER.name}`, role: WORKER.role },
    consumers: names.consumers(WORKER.name),
    urls: names.urls(WORKER.name),
    natsUrl: reader.urlList(INFRASTRUCTURE.nats.env, INFRASTRUCTURE.nats.default, ["nats:", "tls:"]),
    temporalAddress,
  };
}

/** Every stream and every workload's consumers, as configured: what the NATS permissions are about. */
export interface SystemTopology {
  prefix: string;
  streams: { readonly [S in ServiceName]: StreamSpec };
  consumers: { readonly [W in Workload]: { readonly [K in ConsumerName<W>]: DurableSpec } };
}

/** Reads the whole system's names (scripts/nats-auth-conf.ts reads the same variables the workloads do). */
export function readSystemTopology(reader: EnvReader): SystemTopology {
  const names = new TopologyReader(reader);
  return {
    prefix: names.prefix,
    streams: { brand: names.stream("brand"), budget: names.stream("budget"), campaign: names.stream("campaign") },
    consumers: {
      brand: names.consumers("brand"),
      budget: names.consumers("budget"),
      campaign: names.consumers("campaign"),
      clocks: names.consumers("clocks"),
    },
  };
}

/** Reads each variable once, however many consumers name the same stream. */
class TopologyReader {
  readonly prefix: string;
  private readonly replicas: number;
  private readonly streams = new Map<ServiceName, StreamSpec>();

  constructor(private readonly reader: EnvReader) {
    this.prefix = reader.token(SUBJECT_PREFIX.env, SUBJECT_PREFIX.default);
    this.replicas = reader.int(STREAM_REPLICAS.env, STREAM_REPLICAS.default, { min: 1, max: STREAM_REPLICAS.max });
  }

  stream(owner: ServiceName): StreamSpec {
    let spec = this.streams.get(owner);
    if (spec === undefined) {
      const s = STREAMS[owner];
      spec = {
        name: this.reader.token(s.env, s.name),
        subjects: s.subjects.map((x) => `${this.prefix}.${x}`),
        replicas: this.replicas,
      };
      this.streams.set(owner, spec);
    }
    return spec;
  }

  consumers<W extends Workload>(workload: W): { readonly [K in ConsumerName<W>]: DurableSpec } {
    const declared: Readonly<Record<string, ConsumerDeclaration>> = CONSUMERS[workload];
    const out: Record<string, DurableSpec> = {};
    for (const [name, c] of Object.entries(declared)) {
      const stream = this.stream(c.stream);
      out[name] = {
        stream: stream.name,
        streamSubjects: stream.subjects,
        streamReplicas: stream.replicas,
        durable: this.reader.token(c.env, c.durable),
        filterSubject: `${this.prefix}.${c.filter}`,
      };
    }
    // The keys are CONSUMERS[workload]'s, each given a value above.
    return out as { readonly [K in ConsumerName<W>]: DurableSpec };
  }

  urls<W extends Workload>(workload: W): { readonly [S in Callee<W>]: string } {
    const calls: Readonly<Partial<Record<ServiceName, "required" | "optional">>> = CALLS[workload];
    const out: Partial<Record<ServiceName, string>> = {};
    for (const service of SERVICE_NAMES) {
      const need = calls[service];
      if (need === undefined) continue;
      const name = serviceUrlVariable(service);
      out[service] =
        need === "optional" && this.reader.string(name, "") === "none"
          ? ""
          : this.reader.url(name, defaultServiceUrl(service), ["http:", "https:"]);
    }
    // The keys are CALLS[workload]'s, each given a value above.
    return out as { readonly [S in Callee<W>]: string };
  }
}
