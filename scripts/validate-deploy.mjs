#!/usr/bin/env node
/**
 * Validates what can be validated here without a Docker engine or a cluster:
 * - `kustomize build deploy/k8s/overlays/local` (kustomize built with go install when missing)
 *   renders; every object decodes strictly into its Kubernetes API type (deploy/tools/k8s-strict,
 *   Go, k8s.io/api: unknown fields, wrong types and unknown kinds fail, as with the API server's
 *   strict field validation); and every Deployment has resources, a non-root read-only security context,
 *   its TLS and NATS Secrets, a NetworkPolicy, the services' readiness and liveness probes (liveness
 *   not the database's) and at least 2 replicas; the shared settings run TLS and NATS users;
 * - deploy/docker-compose.yml passes the Compose Specification's own validator (compose-go, the
 *   loader `docker compose` uses: schema, interpolation, consistency such as depends_on targets;
 *   run with `go run`, no install), has every component, and its build targets exist in
 *   deploy/Dockerfile.
 * Images are not built and nothing is run (no Docker engine on this machine).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
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

const rendered = execFileSync(kustomize(), ["build", join(root, "deploy/k8s/overlays/local")]).toString();
try {
  execFileSync("go", ["run", "."], {
    cwd: join(root, "deploy/tools/k8s-strict"),
    input: rendered,
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
  // Secure by default (issue 22): its certificate for mutual TLS and its own NATS user.
  for (const secret of [`adbudget-${name}-tls`, `adbudget-${name}-nats`])
    check(
      pod.volumes?.some((v) => v.secret?.secretName === secret),
      `${name}: Secret ${secret} mounted`,
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
check(settings.TLS_CERT_FILE && settings.TLS_CA_FILE && settings.NATS_CREDS_FILE, "config: TLS and NATS credentials");
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
for (const s of ["postgres", "nats", "temporal", "jaeger", "brand", "budget", "campaign", "clocks"]) {
  check(compose.services?.[s] !== undefined, `compose: service ${s}`);
  const target = compose.services?.[s]?.build?.target;
  if (target) check(new RegExp(`^FROM runtime AS ${target}$`, "m").test(dockerfile), `Dockerfile: target ${target}`);
  if (target)
    check(
      JSON.stringify(compose.services[s].secrets ?? []).includes("adbudget-jwks"),
      `compose: ${s} gets the auth secrets`,
    );
}

if (problems.length > 0) {
  console.error(`deploy manifests: ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`);
  process.exit(1);
}
console.error(
  `deploy manifests: kustomize rendered ${docs.length} objects (${deployments.length} Deployments) that decode strictly, compose has ${Object.keys(compose.services).length} services and passes compose-spec validation: OK (images not built: no Docker engine here)`,
);
