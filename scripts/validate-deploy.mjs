#!/usr/bin/env node
/**
 * Validates what can be validated here without a Docker engine or a cluster:
 * - `kustomize build deploy/k8s/overlays/local` (kustomize built with go install when missing)
 *   renders; every object decodes strictly into its Kubernetes API type (deploy/tools/k8s-strict,
 *   Go, k8s.io/api: unknown fields, wrong types and unknown kinds fail, as with the API server's
 *   strict field validation); and every Deployment has resources, a non-root read-only security context,
 *   its TLS Secret and its own NATS user, a NetworkPolicy, the services' readiness and liveness probes
 *   (liveness not the database's) and at least 2 replicas; the shared settings run TLS, NATS over TLS
 *   and streams at 3 replicas;
 * - the engines of deploy/k8s/engines (operator resources and Helm values, outside the kustomize
 *   build: custom kinds the strict decoder refuses) parse, and say what adbudget needs: the
 *   CloudNativePG Cluster has 2+ instances and synchronous replication, with the roles and databases
 *   Temporal's values use; the NATS values a 3-server cluster with JetStream on a file store, TLS and
 *   the users of deploy/local/nats-auth.conf with their passwords; the Temporal values the SQL plugin
 *   postgres12 for persistence and visibility on the Cluster's -rw Service, the history shards, the
 *   namespace and the search attributes (the Job registering them also decodes strictly);
 * - deploy/docker-compose.yml passes the Compose Specification's own validator (compose-go, the
 *   loader `docker compose` uses: schema, interpolation, consistency such as depends_on targets;
 *   run with `go run`, no install), has every component (three routed NATS servers with JetStream,
 *   the Temporal server on PostgreSQL after its schema setup, namespace and search attributes), and
 *   its build targets exist in deploy/Dockerfile.
 * Images are not built and nothing is run (no Docker engine on this machine).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";

const root = join(import.meta.dirname, "..");
const problems = [];
const check = (ok, what) => ok || problems.push(what);

function kustomize() {
  const onPath = (process.env.PATH ?? "")
    .split(":")
    .map((d) => join(d, "kustomize"))
    .find(existsSync);
  if (onPath) return onPath;
  const gobin = join(execFileSync("go", ["env", "GOPATH"]).toString().trim(), "bin");
  const bin = join(gobin, "kustomize");
  if (!existsSync(bin)) {
    console.error("building kustomize v5.4.3 (go install, one time)");
    execFileSync("go", ["install", "sigs.k8s.io/kustomize/kustomize/v5@v5.4.3"], {
      stdio: "inherit",
      env: { ...process.env, GOTOOLCHAIN: "local" },
    });
  }
  return bin;
}

// The engines: operator resources and chart values, each file parsed on its own (not kustomize's).
const enginesDir = join(root, "deploy/k8s/engines");
const engines = {};
for (const file of readdirSync(enginesDir).filter((f) => /\.ya?ml$/.test(f))) {
  const parsed = parseAllDocuments(readFileSync(join(enginesDir, file), "utf8"));
  for (const d of parsed) for (const e of d.errors) problems.push(`engines/${file}: ${e.message}`);
  engines[file] = parsed.map((d) => d.toJS()).filter((d) => d != null);
}
// Objects of the charts' values that are plain Kubernetes kinds (Temporal's search-attributes Job)
// go through the strict decoder with the kustomize output, their {{ templates }} stood in for.
const templatedObjects = (engines["temporal-values.yaml"]?.[0]?.extraObjects ?? [])
  .filter((o) => typeof o === "string")
  .map((o) => o.replace(/\{\{[^}]*\}\}/g, "tpl"));

const rendered = execFileSync(kustomize(), ["build", join(root, "deploy/k8s/overlays/local")]).toString();
try {
  execFileSync("go", ["run", "."], {
    cwd: join(root, "deploy/tools/k8s-strict"),
    input: [rendered, ...templatedObjects].join("\n---\n"),
    env: { ...process.env, GOTOOLCHAIN: "local" },
    stdio: ["pipe", "ignore", "pipe"],
  });
} catch (err) {
  problems.push(`strict Kubernetes decoding: ${String(err.stderr ?? err.message).trim()}`);
}
const docs = parseAllDocuments(rendered).map((d) => d.toJS());
const deployments = docs.filter((d) => d.kind === "Deployment");
check(deployments.length === 4, `expected 4 Deployments, got ${deployments.length}`);
for (const d of deployments) {
  const name = d.metadata.name;
  const pod = d.spec.template.spec;
  check(pod.securityContext?.runAsNonRoot === true, `${name}: runAsNonRoot`);
  // Every call needs a token: each workload mounts the key set and its own signing key.
  check(
    pod.volumes?.some((v) => v.secret?.secretName === "adbudget-jwks"),
    `${name}: the JWKS Secret mounted`,
  );
  check(
    pod.volumes?.some((v) => v.secret?.secretName === `adbudget-${name}-key`),
    `${name}: its own signing key Secret mounted`,
  );
  // Secure by default (issue 22): its certificate for mutual TLS and its own NATS user (the users
  // of deploy/local/nats-auth.conf, which the NATS servers include).
  check(
    pod.volumes?.some((v) => v.secret?.secretName === `adbudget-${name}-tls`),
    `${name}: Secret adbudget-${name}-tls mounted`,
  );
  const env = pod.containers[0]?.env ?? [];
  check(
    env.some((e) => e.name === "NATS_USER" && e.value === name) &&
      env.some((e) => e.name === "NATS_PASSWORD" && e.valueFrom?.secretKeyRef?.name === `adbudget-${name}-nats`),
    `${name}: NATS user ${name}, its password from Secret adbudget-${name}-nats`,
  );
  for (const c of pod.containers) {
    check(c.resources?.requests && c.resources?.limits, `${name}: resource requests and limits`);
    check(c.securityContext?.readOnlyRootFilesystem === true, `${name}: read-only root file system`);
    check(c.securityContext?.allowPrivilegeEscalation === false, `${name}: no privilege escalation`);
    if (name !== "clocks") {
      // Over TLS the kubelet's gRPC probes cannot connect: HTTP on the metrics port, and the
      // liveness probe is not the database's (an outage must not restart every pod).
      check(c.readinessProbe?.httpGet?.path === "/readyz", `${name}: readiness probe on /readyz`);
      check(c.livenessProbe?.httpGet?.path === "/livez", `${name}: liveness probe on /livez, not the database's`);
    } else {
      check(c.livenessProbe?.httpGet?.path === "/metrics", "clocks: liveness probe on the worker's metrics endpoint");
    }
  }
  check(d.spec.replicas >= 2, `${name}: at least 2 replicas`);
  check(d.metadata.namespace === "adbudget", `${name}: namespace`);
}
check(docs.filter((d) => d.kind === "Job").length === 3, "a migrate Job per service");
const policies = new Set(
  docs.filter((d) => d.kind === "NetworkPolicy").map((d) => d.spec.podSelector.matchLabels["app.kubernetes.io/name"]),
);
for (const d of deployments) check(policies.has(d.metadata.name), `${d.metadata.name}: a NetworkPolicy`);
const settings = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === "adbudget-config")?.data ?? {};
check(!("ALLOW_INSECURE" in settings) && !("AUTH_DISABLED" in settings), "config: no ALLOW_INSECURE or AUTH_DISABLED");
check(settings.TLS_CERT_FILE && settings.TLS_CA_FILE, "config: TLS");
check(
  settings.NATS_URL?.split(",").every((u) => u.trim().startsWith("tls://")),
  "config: NATS_URL names tls:// servers (the chart's client Service with TLS)",
);
check(settings.STREAM_REPLICAS === "3", "config: STREAM_REPLICAS 3 (streams kept by the 3 NATS servers)");
check(
  !("NATS_CREDS_FILE" in settings) && !("NATS_NKEY_SEED_FILE" in settings),
  "config: no shared NATS credential (each Deployment has its NATS_USER and NATS_PASSWORD)",
);

// PostgreSQL: CloudNativePG, the primary reached through the operator's -rw Service.
const pgDocs = engines["postgres.yaml"] ?? [];
const pg = pgDocs.find((d) => d.apiVersion === "postgresql.cnpg.io/v1" && d.kind === "Cluster");
check(pg, "engines/postgres.yaml: a CloudNativePG Cluster (postgresql.cnpg.io/v1)");
const sync = pg?.spec?.postgresql?.synchronous;
check(pg?.spec?.instances >= 2, "engines/postgres.yaml: at least 2 instances (a primary and a standby)");
check(
  ["any", "first"].includes(sync?.method) && sync?.number >= 1 && sync?.number < pg?.spec?.instances,
  "engines/postgres.yaml: synchronous replication (postgresql.synchronous method and number, fewer than the instances)",
);
check(
  sync?.dataDurability !== "preferred",
  "engines/postgres.yaml: data durability required (a commit waits for a standby)",
);
check(pg?.spec?.storage?.size && pg?.spec?.resources?.requests, "engines/postgres.yaml: storage and resources");
const pgRoles = new Set((pg?.spec?.managed?.roles ?? []).filter((r) => r.login).map((r) => r.name));
const pgDatabases = pgDocs.filter((d) => d.kind === "Database" && d.spec?.cluster?.name === pg?.metadata?.name);
const ownedDatabase = (db, owner) => pgDatabases.some((d) => d.spec.name === db && d.spec.owner === owner);

// NATS: the official chart's values.
const nats = engines["nats-values.yaml"]?.[0] ?? {};
check(
  nats.config?.cluster?.enabled === true && nats.config.cluster.replicas === 3,
  "engines/nats-values.yaml: a cluster of 3 servers (config.cluster.enabled, replicas 3)",
);
check(
  nats.config?.jetstream?.enabled === true &&
    nats.config.jetstream.fileStore?.enabled !== false &&
    nats.config.jetstream.fileStore?.pvc?.enabled !== false,
  "engines/nats-values.yaml: JetStream on a file store with a volume (config.jetstream.fileStore.pvc)",
);
check(
  nats.config?.nats?.tls?.enabled === true && nats.config.nats.tls.secretName,
  "engines/nats-values.yaml: TLS for clients (config.nats.tls with its Secret)",
);
check(
  Object.entries(nats.config?.merge ?? {}).some(([k, v]) => k.endsWith("$include") && v === "nats-auth.conf"),
  "engines/nats-values.yaml: deploy/local/nats-auth.conf included (config.merge $include)",
);
// Every password deploy/local/nats-auth.conf names reaches the servers' environment.
const authConf = readFileSync(join(root, "deploy/local/nats-auth.conf"), "utf8");
for (const [, variable] of authConf.matchAll(/password:\s*\$(\w+)/g))
  check(
    nats.container?.env?.[variable]?.valueFrom?.secretKeyRef,
    `engines/nats-values.yaml: ${variable} from a Secret`,
  );

// Temporal: the chart's values.
const temporal = engines["temporal-values.yaml"]?.[0] ?? {};
check(
  temporal.server?.image?.repository === "temporalio/server",
  "engines/temporal-values.yaml: server image temporalio/server",
);
const persistence = temporal.server?.config?.persistence ?? {};
check(
  Number.isInteger(persistence.numHistoryShards) && persistence.numHistoryShards > 0,
  "engines/temporal-values.yaml: numHistoryShards set",
);
for (const store of [persistence.defaultStore, persistence.visibilityStore]) {
  const sql = persistence.datastores?.[store]?.sql;
  check(sql?.pluginName === "postgres12", `engines/temporal-values.yaml: store ${store} on SQL plugin postgres12`);
  check(
    sql?.connectAddr === `${pg?.metadata?.name}-rw:5432`,
    `engines/temporal-values.yaml: store ${store} on the Cluster's -rw Service (the primary)`,
  );
  check(
    pgRoles.has(sql?.user) && ownedDatabase(sql?.databaseName, sql?.user),
    `engines/postgres.yaml: role ${sql?.user} and database ${sql?.databaseName} for Temporal's store ${store}`,
  );
  check(sql?.existingSecret && !sql?.password, `engines/temporal-values.yaml: store ${store} password from a Secret`);
}
for (const db of ["adbudget_brand", "adbudget_budget", "adbudget_campaign"])
  check(
    pgDatabases.some((d) => d.spec.name === db && pgRoles.has(d.spec.owner)),
    `engines/postgres.yaml: database ${db} owned by a login role`,
  );
check(
  temporal.server?.config?.namespaces?.create === true &&
    temporal.server.config.namespaces.namespace?.some((n) => n.name === "default"),
  "engines/temporal-values.yaml: namespace default created",
);
check(
  templatedObjects.some((o) => /BrandId/.test(o) && /CampaignId/.test(o) && /--type Keyword/.test(o)),
  "engines/temporal-values.yaml: search attributes BrandId and CampaignId (Keyword) registered",
);
// The chart (1.x) fails its render on the removed sub-charts' keys, even set to enabled: false.
for (const key of ["cassandra", "mysql", "postgresql", "elasticsearch", "prometheus", "grafana"])
  check(!(key in temporal), `engines/temporal-values.yaml: no top-level ${key} (removed from the chart)`);
check(temporal.web?.enabled === true, "engines/temporal-values.yaml: the UI (web) enabled");
check(["request", "require"].includes(settings.TLS_CLIENT_AUTH), "config: TLS_CLIENT_AUTH binds workload tokens");
for (const url of ["BRAND_SERVICE_URL", "BUDGET_SERVICE_URL", "CAMPAIGN_SERVICE_URL"])
  check(settings[url]?.startsWith("https://"), `config: ${url} is https`);

const COMPOSE_GO = "github.com/compose-spec/compose-go/v2/cmd@v2.16.2";
try {
  execFileSync("go", ["run", COMPOSE_GO, "--format", "json", "docker-compose.yml"], {
    cwd: join(root, "deploy"),
    env: { ...process.env, GOTOOLCHAIN: "local" },
    stdio: ["ignore", "ignore", "pipe"],
  });
} catch (err) {
  problems.push(`compose-spec validation (${COMPOSE_GO}): ${String(err.stderr ?? err.message).trim()}`);
}
const compose = parse(readFileSync(join(root, "deploy/docker-compose.yml"), "utf8"));
const dockerfile = readFileSync(join(root, "deploy/Dockerfile"), "utf8");
const NATS_NODES = ["nats-1", "nats-2", "nats-3"];
const COMPOSE_SERVICES = [
  "postgres",
  ...NATS_NODES,
  "temporal-schema",
  "temporal",
  "temporal-namespace",
  "temporal-ui",
];
for (const s of [...COMPOSE_SERVICES, "jaeger", "brand", "budget", "campaign", "clocks"]) {
  check(compose.services?.[s] !== undefined, `compose: service ${s}`);
  const target = compose.services?.[s]?.build?.target;
  if (target) check(new RegExp(`^FROM runtime AS ${target}$`, "m").test(dockerfile), `Dockerfile: target ${target}`);
  if (target)
    check(
      JSON.stringify(compose.services[s].secrets ?? []).includes("adbudget-jwks"),
      `compose: ${s} gets the auth secrets`,
    );
}

// NATS: three routed servers, JetStream on each, named, with their own volumes.
for (const node of NATS_NODES) {
  const args = compose.services?.[node]?.command ?? [];
  const after = (flag) => args[args.indexOf(flag) + 1];
  check(args.includes("-js"), `compose: ${node} runs JetStream (-js)`);
  check(after("--server_name") === node, `compose: ${node} named ${node}`);
  check(
    after("--cluster_name") === "adbudget" && after("--cluster") === "nats://0.0.0.0:6222",
    `compose: ${node} in cluster adbudget`,
  );
  const routes = (after("--routes") ?? "").split(",");
  for (const other of NATS_NODES.filter((n) => n !== node))
    check(routes.includes(`nats://${other}:6222`), `compose: ${node} routes to ${other}`);
  check(compose.services?.[node]?.volumes?.length === 1, `compose: ${node} has its own volume`);
}
const serviceEnv = compose.services?.brand?.environment ?? {};
check(
  NATS_NODES.every((n) => serviceEnv.NATS_URL?.split(",").includes(`nats://${n}:4222`)),
  "compose: NATS_URL names the three servers",
);
check(serviceEnv.STREAM_REPLICAS === "3", "compose: STREAM_REPLICAS 3");
// Temporal: the server on PostgreSQL after its schema setup; the namespace and search attributes.
const temporalService = compose.services?.temporal ?? {};
check(temporalService.image?.startsWith("temporalio/server:"), "compose: the Temporal server image temporalio/server");
check(temporalService.environment?.DB?.startsWith("postgres12"), "compose: Temporal on PostgreSQL (DB postgres12)");
check(
  temporalService.depends_on?.["temporal-schema"]?.condition === "service_completed_successfully",
  "compose: the Temporal server waits for its schema setup",
);
const schemaSetup = JSON.stringify(compose.services?.["temporal-schema"] ?? {});
check(
  compose.services?.["temporal-schema"]?.image?.startsWith("temporalio/admin-tools:") &&
    ["temporal", "visibility"].every((k) =>
      schemaSetup.includes(`update-schema -d /etc/temporal/schema/postgresql/v12/${k}/versioned`),
    ),
  "compose: temporal-schema sets up both schemas (temporal-sql-tool)",
);
const namespaceSetup = JSON.stringify(compose.services?.["temporal-namespace"]?.command ?? []);
check(
  ["namespace create -n default", "BrandId", "CampaignId", "--type Keyword"].every((s) => namespaceSetup.includes(s)),
  "compose: temporal-namespace creates namespace default and the search attributes",
);
check(
  compose.services?.clocks?.depends_on?.["temporal-namespace"]?.condition === "service_completed_successfully",
  "compose: the clocks worker waits for the namespace and search attributes",
);

if (problems.length > 0) {
  console.error(`deploy manifests: ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`);
  process.exit(1);
}
console.error(
  `deploy manifests: kustomize rendered ${docs.length} objects (${deployments.length} Deployments) that decode strictly, the engines (${Object.keys(engines).join(", ")}) say what adbudget needs, compose has ${Object.keys(compose.services).length} services and passes compose-spec validation: OK (images not built: no Docker engine here)`,
);
