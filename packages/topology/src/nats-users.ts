/**
 * The NATS users of the system, derived from the declaration: one per workload, allowed what
 * its entries say it does (the stream it owns and the events it publishes there, the durable
 * consumers it runs, its live subscriptions) and nothing else. The kit turns that into subjects
 * (nats-permissions.ts explains the rules); scripts/nats-auth-conf.ts prints the server's
 * authorization for the names in the environment, deploy/local/nats-auth.conf is its output for
 * the defaults. A new event subject, consumer or subscription in declaration.ts changes the
 * permissions with it: regenerate the file.
 */
import {
  describeNatsUser,
  natsAuthorizationConfig,
  natsInboxPrefix,
  natsPermissions,
  type NatsPermissions,
  type NatsUser,
  type NatsUserSecret,
  type NatsUserSpec,
} from "@adbudget/kit";
import {
  CONSUMERS,
  SERVICE_NAMES,
  STREAMS,
  SUBSCRIPTIONS,
  WORKER,
  WORKLOADS,
  type ConsumerDeclaration,
  type Workload,
} from "./declaration.js";
import type { SystemTopology } from "./read-topology.js";

/** What `workload` does on NATS, with the names of `topology`. */
export function natsUserSpec(workload: Workload, topology: SystemTopology): NatsUserSpec {
  const p = topology.prefix;
  const owned = SERVICE_NAMES.filter((s) => s === workload);
  const consumers: Readonly<Record<string, ConsumerDeclaration>> = CONSUMERS[workload];
  const configured: Readonly<Record<string, { stream: string; durable: string }>> = topology.consumers[workload];
  return {
    inbox: natsInboxPrefix(workload),
    owns: owned.map((s) => ({
      stream: topology.streams[s].name,
      publishes: STREAMS[s].events.map((e) => `${p}.${e}`),
    })),
    reads: Object.entries(consumers).flatMap(([name, c]) => {
      const spec = configured[name];
      return spec === undefined ? [] : [{ stream: spec.stream, durable: spec.durable, filter: `${p}.${c.filter}` }];
    }),
    subscribes: SUBSCRIPTIONS[workload].map((s) => `${p}.${s}`),
  };
}

/** The permissions of `workload`'s user. */
export function natsWorkloadPermissions(workload: Workload, topology: SystemTopology): NatsPermissions {
  return natsPermissions(natsUserSpec(workload, topology));
}

export interface NatsAuthorizationOptions {
  topology: SystemTopology;
  /** Each workload's secret, and its user name (default: the workload's name). */
  users: Record<Workload, { user?: string } & NatsUserSecret>;
  /** Further users with explicit permissions (an operator's `admin` with `>`, say). */
  extraUsers?: ({ user: string; description: string; permissions: NatsPermissions } & NatsUserSecret)[];
  /** A comment put at the top of the file. */
  header?: string;
}

/** The nats-server `authorization` block of the system's workloads (and `extraUsers`). */
export function natsAuthorization(o: NatsAuthorizationOptions): string {
  const users: NatsUser[] = WORKLOADS.map((w) => {
    const spec = natsUserSpec(w, o.topology);
    const what = `${w} ${w === WORKER.name ? "worker" : "service"}\n${describeNatsUser(spec)}`;
    return { ...o.users[w], user: o.users[w].user ?? w, description: what, permissions: natsPermissions(spec) };
  });
  return natsAuthorizationConfig({ users: [...users, ...(o.extraUsers ?? [])], header: o.header });
}
