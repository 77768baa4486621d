import type { DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { generateKeyPair, importJWK, SignJWT, UnsecuredJWT } from "jose";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePageToken, type TokenClaims } from "@adbudget/kit";
import { ROLES } from "@adbudget/topology";
import {
  callMethod,
  announcedServices,
  eventually,
  listedServices,
  sampleRequest,
  sampleResources,
  SERVABLE_SERVICES,
  startSystemInProcess,
  TEST_AUDIENCE,
  type SystemHarness,
} from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { CampaignService, WatchEventType } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { ServerReflection as ReflectionV1 } from "@adbudget/proto/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "@adbudget/proto/grpc/reflection/v1alpha/reflection_pb.js";
import { Health } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import {
  ACCESS_TABLE,
  expectedAllowed,
  MATRIX_PRINCIPALS,
  OPEN_SERVICES,
  ROLE_SCOPE,
  type MatrixPrincipal,
} from "./access-table.js";

/**
 * Access over real servers (docs/design.md, Access): every role against every RPC the servers
 * answer, for its own brand and another brand, held against the table written from the design
 * (access-table.ts), not against the production policy; hostile tokens; lists and watches that
 * show only the caller's brands; and who did what kept in the audit logs.
 */
let h: SystemHarness;
beforeAll(async () => {
  h = await startSystemInProcess();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const REFLECTION: ReadonlySet<string> = new Set([ReflectionV1.typeName, ReflectionV1alpha.typeName]);
const SERVERS: [string, () => string][] = [
  ["brand", () => h.brandApp.server.url],
  ["budget", () => h.budgetApp.server.url],
  ["campaign", () => h.campaignApp.server.url],
];

/** The services a server announces to `interceptors`' principal (reflection lists what its role may call). */
const listedTo = (url: string, interceptors: Interceptor[]) =>
  listedServices(createGrpcTransport({ baseUrl: url, interceptors }));

/** Every service a server announces to any role: what it serves. */
const announced = (url: string) =>
  announcedServices(async (claims) => createGrpcTransport({ baseUrl: url, interceptors: await h.auth.as(claims) }));

/** Every service every server answers: name, server and descriptor; unknown names apart. */
async function servedServices(): Promise<{
  served: { service: DescService; server: string; url: string }[];
  unknown: string[];
}> {
  const served: { service: DescService; server: string; url: string }[] = [];
  const unknown: string[] = [];
  for (const [server, url] of SERVERS) {
    for (const name of await announced(url())) {
      const service = SERVABLE_SERVICES.get(name);
      if (service === undefined) unknown.push(`${server}: ${name}`);
      else served.push({ service, server, url: url() });
    }
  }
  return { served, unknown };
}

describe("the table names every RPC", () => {
  it("every RPC of every service the servers answer has a row, every row an RPC, every role a column", async () => {
    const { served, unknown } = await servedServices();
    // A service a server answers that this test has no descriptor for: add it, and its rows.
    expect(unknown).toEqual([]);
    const rpcs = served
      .filter((s) => !OPEN_SERVICES.has(s.service.typeName))
      .flatMap((s) => s.service.methods.map((m) => `${s.service.typeName}/${m.name}`));
    expect(rpcs.filter((rpc) => ACCESS_TABLE[rpc] === undefined)).toEqual([]);
    expect(Object.keys(ACCESS_TABLE).filter((rpc) => !rpcs.includes(rpc))).toEqual([]);
    // Every server answers its own services (the three servers each announce the product's).
    expect(new Set(served.map((s) => s.service.typeName))).toEqual(new Set(SERVABLE_SERVICES.keys()));
  });
});

/** A fresh brand with a budget and a campaign: what a call may read or change. */
const resources = (tag: string) => sampleResources(h, tag);

async function callAs(
  interceptors: Interceptor[],
  service: DescService,
  url: string,
  method: DescMethod,
  req: Message,
): Promise<Code | "OK"> {
  return callMethod(service, method, createGrpcTransport({ baseUrl: url, interceptors }), req);
}

/** A reflection call (bidirectional: one listServices request) as `interceptors`' principal. */
async function reflectAs(interceptors: Interceptor[], service: DescService, url: string): Promise<Code | "OK"> {
  const transport = createGrpcTransport({ baseUrl: url, interceptors });
  const ask = (async function* () {
    yield { messageRequest: { case: "listServices" as const, value: "" } };
  })();
  try {
    if (service.typeName === ReflectionV1.typeName)
      for await (const _ of createClient(ReflectionV1, transport).serverReflectionInfo(ask)) void _;
    else for await (const _ of createClient(ReflectionV1alpha, transport).serverReflectionInfo(ask)) void _;
    return "OK";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

/** The token of a matrix principal: its role, and its one brand when it names brands. */
function claimsOf(p: MatrixPrincipal, own: string): TokenClaims {
  const sub = `test:${p.role}:${p.brands}`;
  return p.brands === "own" ? { sub, role: p.role, brands: [own] } : { sub, role: p.role };
}

const nameOf = (p: MatrixPrincipal) =>
  `${p.role}${ROLE_SCOPE[p.role] === "all" ? "" : p.brands === "own" ? " (one brand)" : " (all brands)"}`;

describe("the role x RPC x brand matrix", () => {
  it("allows each principal exactly the table's RPCs, on its own brands only where it is scoped", async () => {
    const { served } = await servedServices();
    const wrong: string[] = [];
    let calls = 0;
    let allowed = 0;
    for (const p of MATRIX_PRINCIPALS) {
      for (const { service, url } of served) {
        if (OPEN_SERVICES.has(service.typeName)) continue;
        for (const method of service.methods) {
          const rpc = `${service.typeName}/${method.name}`;
          if (REFLECTION.has(service.typeName)) {
            // About no brand: one call, with the principal's token.
            const code = await reflectAs(
              await h.auth.as(claimsOf(p, "01900000-0000-7000-8000-0000000000aa")),
              service,
              url,
            );
            calls++;
            const want = expectedAllowed(rpc, p, "own");
            if (want) allowed++;
            if (code !== (want ? "OK" : Code.PermissionDenied))
              wrong.push(`${nameOf(p)} ${rpc}: ${code === "OK" ? "OK" : Code[code]}, wanted ${want ? "OK" : "denied"}`);
            continue;
          }
          // Fresh resources per call: some RPCs archive, delete or lock what they are given.
          const [own, foreign] = [await resources("own"), await resources("foreign")];
          const as = await h.auth.as(claimsOf(p, own.brandId));
          for (const [which, r] of [
            ["own", own],
            ["foreign", foreign],
          ] as const) {
            const code = await callAs(as, service, url, method, sampleRequest(method, r, h.now()));
            calls++;
            const want = expectedAllowed(rpc, p, which);
            if (want) allowed++;
            // Any answer but PERMISSION_DENIED lets the call in (its own checks may refuse it);
            // an unauthenticated or internal answer is wrong either way.
            const denied = code === Code.PermissionDenied;
            if (code === Code.Unauthenticated || code === Code.Internal || code === Code.Unknown || denied === want) {
              wrong.push(
                `${nameOf(p)} ${rpc} ${which}: ${code === "OK" ? "OK" : Code[code]}, wanted ${want ? "let in" : "denied"}`,
              );
            }
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    // Both verdicts were exercised in numbers (a matrix of all-denied would prove little).
    expect(calls).toBeGreaterThan(500);
    expect(allowed).toBeGreaterThan(150);
    expect(calls - allowed).toBeGreaterThan(250);
  }, 600_000);

  it("a role that must name its brands is refused without them; the others are not", async () => {
    for (const role of ROLES) {
      const token = await h.auth.mint({ sub: `test:${role}:unscoped`, role });
      const res = await createClient(BrandService, createGrpcTransport({ baseUrl: h.brandApp.server.url }))
        .listBrands({}, { headers: { authorization: `Bearer ${token}` } })
        .then(
          () => "OK",
          (e: unknown) => Code[ConnectError.from(e).code],
        );
      const lists = expectedAllowed("adbudget.brand.v1.BrandService/ListBrands", { role, brands: "all" }, "own");
      expect([role, res]).toEqual([
        role,
        ROLE_SCOPE[role] === "brands" ? "Unauthenticated" : lists ? "OK" : "PermissionDenied",
      ]);
    }
  });
});

describe("lists and watches show only the caller's brands", () => {
  it("ListBrands, ListCampaigns, ListCampaignStateChanges and WatchCampaigns of a viewer of one brand", async () => {
    const [mine, theirs] = [await resources("mine"), await resources("theirs")];
    const as = await h.auth.as({ sub: "test:viewer", role: "viewer", brands: [mine.brandId] });
    const t = (url: string) => createGrpcTransport({ baseUrl: url, interceptors: as });
    const brands = createClient(BrandService, t(h.brandApp.server.url));
    const campaigns = createClient(CampaignService, t(h.campaignApp.server.url));
    expect((await brands.listBrands({ pageSize: 1000 })).brands.map((b) => b.id)).toEqual([mine.brandId]);
    expect((await campaigns.listCampaigns({ pageSize: 1000 })).campaigns.map((c) => c.brandId)).toEqual([mine.brandId]);
    const changes = (await campaigns.listCampaignStateChanges({ pageSize: 1000 })).changes;
    expect(changes.length).toBeGreaterThan(0);
    expect(new Set(changes.map((c) => c.brandId))).toEqual(new Set([mine.brandId]));
    const seen: string[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      try {
        for await (const m of campaigns.watchCampaigns({}, { signal: abort.signal })) {
          if (m.campaign) seen.push(m.campaign.brandId);
          if (m.type === WatchEventType.CHANGED) break;
        }
      } catch {
        // aborted
      }
    })();
    await eventually(async () => seen.length >= 1, 5000, "snapshot");
    // A change in each brand: only this brand's reaches the watcher.
    await h.campaigns.pauseCampaign({ id: theirs.campaignId });
    await h.campaigns.pauseCampaign({ id: mine.campaignId });
    await eventually(async () => seen.length >= 2, 10_000, "change");
    abort.abort();
    await watching;
    expect(new Set(seen)).toEqual(new Set([mine.brandId]));
  });

  it("a batch with one event of another brand is refused whole, and records nothing", async () => {
    const [mine, theirs] = [await resources("mine"), await resources("theirs")];
    const as = await h.auth.as({ sub: "test:ad-server", role: "ad-server", brands: [mine.brandId] });
    const budget = createClient(
      BudgetService,
      createGrpcTransport({ baseUrl: h.budgetApp.server.url, interceptors: as }),
    );
    const ev = (r: typeof mine, n: number) => ({
      eventId: `batch-${n}`,
      brandId: r.brandId,
      campaignId: r.campaignId,
      amountMicros: 5n,
    });
    const err = await budget.recordSpendBatch({ events: [ev(mine, 1), ev(theirs, 2), ev(mine, 3)] }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.PermissionDenied);
    expect((await h.budget.listSpendEvents({ brandId: mine.brandId })).events).toEqual([]);
    expect((await h.budget.listSpendEvents({ brandId: theirs.brandId })).events).toEqual([]);
  });

  it("a campaign of a brand the caller cannot see answers like one that does not exist", async () => {
    const [mine, theirs] = [await resources("mine"), await resources("theirs")];
    const as = await h.auth.as({ sub: "test:ad-server", role: "ad-server", brands: [mine.brandId] });
    const budget = createClient(
      BudgetService,
      createGrpcTransport({ baseUrl: h.budgetApp.server.url, interceptors: as }),
    );
    const campaigns = createClient(
      CampaignService,
      createGrpcTransport({ baseUrl: h.campaignApp.server.url, interceptors: as }),
    );
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "OK",
        (e: unknown) => Code[ConnectError.from(e).code],
      );
    const unknownCampaign = "01900000-0000-7000-8000-0000000000ab";
    // Spend of my brand naming their campaign: the same answer as a campaign that does not exist.
    expect(
      await code(
        budget.recordSpend({ eventId: "x1", brandId: mine.brandId, campaignId: theirs.campaignId, amountMicros: 1n }),
      ),
    ).toBe("NotFound");
    expect(
      await code(
        budget.recordSpend({ eventId: "x2", brandId: mine.brandId, campaignId: unknownCampaign, amountMicros: 1n }),
      ),
    ).toBe("NotFound");
    // Reading it: the same answer as for a campaign that does not exist.
    expect(await code(campaigns.getCampaign({ id: theirs.campaignId }))).toBe("PermissionDenied");
    expect(await code(campaigns.getCampaign({ id: unknownCampaign }))).toBe("PermissionDenied");
    // An admin sees the difference.
    expect(await code(h.campaigns.getCampaign({ id: unknownCampaign }))).toBe("NotFound");
  });
});

describe("credentials", () => {
  const brandUrl = () => h.brandApp.server.url;
  const get = (headers: Record<string, string>) =>
    createClient(BrandService, createGrpcTransport({ baseUrl: brandUrl() }))
      .listBrands({}, { headers })
      .then(
        () => "OK",
        (e: unknown) => ConnectError.from(e),
      );

  async function signed(overrides: {
    kid?: string;
    alg?: "EdDSA" | "ES256";
    aud?: string;
    exp?: number;
    nbf?: number;
    iat?: number;
    key?: "other";
  }) {
    const other = await generateKeyPair(overrides.alg ?? "EdDSA", { extractable: true });
    const key = overrides.key === "other" ? other.privateKey : undefined;
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: overrides.alg ?? "EdDSA", kid: overrides.kid ?? "unknown-kid" })
      .setSubject("test:hostile")
      .setAudience(overrides.aud ?? TEST_AUDIENCE)
      .setJti("j")
      .setIssuedAt(overrides.iat ?? now)
      .setExpirationTime(overrides.exp ?? now + 600);
    if (overrides.nbf !== undefined) jwt.setNotBefore(overrides.nbf);
    return jwt.sign(key ?? other.privateKey);
  }

  it.each([
    ["no credentials", async () => ({})],
    ["a malformed header", async () => ({ authorization: "Token abc" })],
    ["a malformed token", async () => ({ authorization: "Bearer not.a.jwt" })],
    [
      "alg none",
      async () => ({
        authorization: `Bearer ${new UnsecuredJWT({ role: "admin" }).setSubject("x").setAudience(TEST_AUDIENCE).setIssuedAt().setJti("j").setExpirationTime("10m").encode()}`,
      }),
    ],
    ["an unknown kid", async () => ({ authorization: `Bearer ${await signed({})}` })],
    [
      "a bad signature (the right kid, another key)",
      async () => ({
        authorization: `Bearer ${(await h.auth.mint({ sub: "x", role: "admin" })).replace(/\.[^.]+$/, `.${(await signed({ key: "other" })).split(".")[2]}`)}`,
      }),
    ],
    [
      "an expired token",
      async () => ({ authorization: `Bearer ${await h.auth.mint({ sub: "x", role: "admin" }, -120)}` }),
    ],
    ["another audience", async () => ({ authorization: `Bearer ${await mintWith({ aud: "someone-else" })}` })],
    [
      "not yet valid (nbf in an hour)",
      async () => ({ authorization: `Bearer ${await mintWith({ nbf: Math.floor(Date.now() / 1000) + 3600 })}` }),
    ],
    [
      "issued in the future",
      async () => ({ authorization: `Bearer ${await mintWith({ iat: Math.floor(Date.now() / 1000) + 3600 })}` }),
    ],
    ["an unknown role", async () => ({ authorization: `Bearer ${await mintWith({ role: "root" })}` })],
    [
      "an ad-server token without brands",
      async () => ({ authorization: `Bearer ${await mintWith({ role: "ad-server" })}` }),
    ],
  ])("%s -> UNAUTHENTICATED", async (_name, headers) => {
    const res = await get(await headers());
    expect(res).toBeInstanceOf(ConnectError);
    expect((res as ConnectError).code).toBe(Code.Unauthenticated);
  });

  /** A token signed with the system's own key, with claims changed. */
  async function mintWith(changes: { aud?: string; nbf?: number; iat?: number; role?: string }) {
    const jwk = JSON.parse(readFileSync(h.auth.env.AUTH_PRIVATE_KEY_FILE, "utf8"));
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ role: changes.role ?? "admin" })
      .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid })
      .setSubject("test:hostile")
      .setAudience(changes.aud ?? TEST_AUDIENCE)
      .setJti("j")
      .setIssuedAt(changes.iat ?? now)
      .setExpirationTime(now + 600);
    if (changes.nbf !== undefined) jwt.setNotBefore(changes.nbf);
    return jwt.sign(await importJWK(jwk, jwk.alg));
  }

  it("health needs no credentials; reflection takes any valid token and shows each role what it may call", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: brandUrl() }));
    expect((await health.check({ service: "" })).status).toBeGreaterThan(0);
    const viewer = await h.auth.as({ sub: "test:viewer", role: "viewer" });
    const reflection = createClient(ReflectionV1, createGrpcTransport({ baseUrl: brandUrl(), interceptors: viewer }));
    const out = [];
    for await (const m of reflection.serverReflectionInfo(
      (async function* () {
        yield { messageRequest: { case: "listServices" as const, value: "" } };
      })(),
    ))
      out.push(m);
    expect(out.length).toBe(1);
    // Each role is shown what it may call: the internal clock services are the clocks' alone.
    const budgetUrl = h.budgetApp.server.url;
    const clocks = await h.auth.as({ sub: "test:clocks", role: "clocks" });
    expect(await listedTo(budgetUrl, viewer)).not.toContain(BudgetClockService.typeName);
    expect(await listedTo(budgetUrl, viewer)).toContain(BudgetService.typeName);
    expect(await listedTo(budgetUrl, h.auth.admin)).not.toContain(BudgetClockService.typeName);
    expect(await listedTo(budgetUrl, clocks)).toContain(BudgetClockService.typeName);
    expect(await listedTo(h.campaignApp.server.url, viewer)).not.toContain(CampaignClockService.typeName);
    // Nor can it read their descriptors by name.
    const symbol = async (interceptors: Interceptor[]) => {
      const r = createClient(ReflectionV1, createGrpcTransport({ baseUrl: budgetUrl, interceptors }));
      for await (const m of r.serverReflectionInfo(
        (async function* () {
          yield { messageRequest: { case: "fileContainingSymbol" as const, value: BudgetClockService.typeName } };
        })(),
      ))
        return m.messageResponse.case;
      return undefined;
    };
    expect(await symbol(viewer)).toBe("errorResponse");
    expect(await symbol(clocks)).toBe("fileDescriptorResponse");
    const bare = createClient(ReflectionV1, createGrpcTransport({ baseUrl: brandUrl() }));
    const err = await (async () => {
      try {
        for await (const _ of bare.serverReflectionInfo(
          (async function* () {
            yield { messageRequest: { case: "listServices" as const, value: "" } };
          })(),
        ))
          void _;
      } catch (e) {
        return ConnectError.from(e);
      }
    })();
    expect(err?.code).toBe(Code.Unauthenticated);
  });
});

describe("who did what", () => {
  it("the principal is recorded with every state change a call causes and every budget change", async () => {
    const r = await resources("audited");
    const manager = await h.auth.as({ sub: "alice@agency", role: "brand-manager", brands: [r.brandId] });
    const t = (url: string) => createGrpcTransport({ baseUrl: url, interceptors: manager });
    await createClient(CampaignService, t(h.campaignApp.server.url)).pauseCampaign({ id: r.campaignId });
    await createClient(BudgetService, t(h.budgetApp.server.url)).setBudget({
      brandId: r.brandId,
      dailyLimitMicros: 5n,
      monthlyLimitMicros: 9n,
    });
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId: r.campaignId });
    expect(changes[0]).toMatchObject({ cause: "user.pause", principal: "alice@agency" });
    expect(changes.at(-1)).toMatchObject({ cause: "create", principal: "test:admin" });
    const budgetChanges = (await h.budget.listBudgetChanges({ brandId: r.brandId })).changes;
    expect(
      budgetChanges.map((c) => [c.principal, c.oldDailyLimitMicros, c.newDailyLimitMicros, c.newMonthlyLimitMicros]),
    ).toEqual([
      ["alice@agency", 1_000_000_000n, 5n, 9n],
      ["test:admin", undefined, 1_000_000_000n, undefined],
    ]);
    expect(budgetChanges[0].requestId).not.toBe("");
  });

  it("a state change another service makes in turn names the caller whose call caused it", async () => {
    const r = await resources("caused");
    const as = async (sub: string, role: "brand-manager" | "admin") =>
      h.auth.as(role === "admin" ? { sub, role } : { sub, role, brands: [r.brandId] });
    const t = (url: string, interceptors: Interceptor[]) => createGrpcTransport({ baseUrl: url, interceptors });
    const carol = await as("carol@agency", "brand-manager");
    const dave = await as("dave@agency", "brand-manager");
    const erin = await as("erin@agency", "admin");
    const latest = async () => (await h.campaigns.listCampaignStateChanges({ campaignId: r.campaignId })).changes[0];
    const reaches = (cause: string) =>
      eventually(async () => (await latest())?.cause === cause, 10_000, `the campaign's ${cause}`);

    // Spend runs the day out (the ad server's: spend names its reporter on its own rows).
    await h.budget.recordSpend({
      eventId: `caused-${r.brandId}`,
      brandId: r.brandId,
      campaignId: r.campaignId,
      amountMicros: 1_000_000_000n,
    });
    await reaches("budget.exhausted");
    // Carol's SetBudget frees the day: the budget event names her, and the resume does.
    await createClient(BudgetService, t(h.budgetApp.server.url, carol)).setBudget({
      brandId: r.brandId,
      dailyLimitMicros: 3_000_000_000n,
    });
    await reaches("budget.replenished");
    expect(await latest()).toMatchObject({ toServing: true, principal: "carol@agency" });
    // Dave lowers the campaign's cap under today's spend, then raises it: the budget service
    // judges each from his UpdateCampaign's event, and its cap events name him.
    const campaigns = createClient(CampaignService, t(h.campaignApp.server.url, dave));
    const cap = (dailyLimitMicros: bigint) =>
      campaigns.updateCampaign({
        campaign: { id: r.campaignId, dailyLimitMicros },
        updateMask: { paths: ["daily_limit_micros"] },
      });
    await cap(500_000_000n);
    await reaches("campaign_budget.exhausted");
    expect(await latest()).toMatchObject({ toServing: false, principal: "dave@agency" });
    await cap(2_000_000_000n);
    await reaches("campaign_budget.replenished");
    expect(await latest()).toMatchObject({ toServing: true, principal: "dave@agency" });
    // Erin archives the brand: the campaign service's pause names her.
    await createClient(BrandService, t(h.brandApp.server.url, erin)).archiveBrand({ id: r.brandId });
    await reaches("brand.archived");
    expect(await latest()).toMatchObject({ toServing: false, principal: "erin@agency" });
  });

  it("a change of the alert thresholds alone is a budget change too, with who made it", async () => {
    const r = await resources("alerts audited");
    const manager = await h.auth.as({ sub: "erin@agency", role: "brand-manager", brands: [r.brandId] });
    const budget = createClient(
      BudgetService,
      createGrpcTransport({ baseUrl: h.budgetApp.server.url, interceptors: manager }),
    );
    await budget.setBudget({ brandId: r.brandId, alerts: { percents: [80, 50] } });
    await budget.setBudget({ brandId: r.brandId, alerts: { percents: [] } });
    const { changes } = await h.budget.listBudgetChanges({ brandId: r.brandId });
    expect(changes.map((c) => [c.principal, c.oldAlertPercents, c.newAlertPercents, c.newDailyLimitMicros])).toEqual([
      ["erin@agency", [50, 80], [], 1_000_000_000n],
      ["erin@agency", [], [50, 80], 1_000_000_000n],
      ["test:admin", [], [], 1_000_000_000n],
    ]);
  });

  it("every brand change records its caller, request id and the brand before and after", async () => {
    const admin = await h.auth.as({ sub: "carol@agency", role: "admin" });
    const brands = createClient(
      BrandService,
      createGrpcTransport({ baseUrl: h.brandApp.server.url, interceptors: admin }),
    );
    const { brand } = await brands.createBrand({ name: `Audited ${Math.random()}`, timeZone: "Europe/Paris" });
    const id = brand?.id ?? "";
    await brands.updateBrand({ brand: { id, timeZone: "Asia/Tokyo" }, updateMask: { paths: ["time_zone"] } });
    // A change that changes nothing is no change.
    await brands.updateBrand({ brand: { id, timeZone: "Asia/Tokyo" }, updateMask: { paths: ["time_zone"] } });
    await h.brands.archiveBrand({ id });
    await h.brands.archiveBrand({ id });
    const { changes } = await h.brands.listBrandChanges({ brandId: id });
    expect(
      changes.map((c) => [c.action, c.principal, c.before?.timeZone, c.after?.timeZone, c.after?.archived]),
    ).toEqual([
      ["archive", "test:admin", "Asia/Tokyo", "Asia/Tokyo", true],
      ["update", "carol@agency", "Europe/Paris", "Asia/Tokyo", false],
      ["create", "carol@agency", undefined, "Europe/Paris", false],
    ]);
    expect(changes.every((c) => c.requestId !== "" && c.brandId === id)).toBe(true);
    // Pages, newest first; a token forged with the filter's hash and a key of its own is refused.
    const first = await h.brands.listBrandChanges({ brandId: id, pageSize: 2 });
    const rest = await h.brands.listBrandChanges({ brandId: id, pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.changes, ...rest.changes].map((c) => c.action)).toEqual(["archive", "update", "create"]);
    const forged = encodePageToken("x' or 1=1", { b: id });
    await expect(h.brands.listBrandChanges({ brandId: id, pageToken: forged })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    // Brand scope: a manager of another brand sees nothing of it.
    const other = await h.auth.as({ sub: "m", role: "brand-manager", brands: [randomUUID()] });
    const outside = createClient(
      BrandService,
      createGrpcTransport({ baseUrl: h.brandApp.server.url, interceptors: other }),
    );
    await expect(outside.listBrandChanges({ brandId: id })).rejects.toMatchObject({ code: Code.PermissionDenied });
  });

  it("every campaign change a call makes records its caller and the campaign before and after", async () => {
    const r = await resources("campaign audited");
    const manager = await h.auth.as({ sub: "dave@agency", role: "brand-manager", brands: [r.brandId] });
    const campaigns = createClient(
      CampaignService,
      createGrpcTransport({ baseUrl: h.campaignApp.server.url, interceptors: manager }),
    );
    // A rename and a cap change the settings, not whether it serves: recorded all the same.
    await campaigns.updateCampaign({
      campaign: { id: r.campaignId, name: "Renamed", dailyLimitMicros: 7n },
      updateMask: { paths: ["name", "daily_limit_micros"] },
    });
    await campaigns.pauseCampaign({ id: r.campaignId });
    await campaigns.pauseCampaign({ id: r.campaignId }); // already paused: no change, no row
    await campaigns.deleteCampaign({ id: r.campaignId });
    const { changes } = await h.campaigns.listCampaignChanges({ campaignId: r.campaignId });
    expect(
      changes.map((c) => [c.action, c.principal, c.before?.name, c.after?.name, c.after?.dailyLimitMicros]),
    ).toEqual([
      ["delete", "dave@agency", "Renamed", "Renamed", 7n],
      ["pause", "dave@agency", "Renamed", "Renamed", 7n],
      ["update", "dave@agency", "campaign audited", "Renamed", 7n],
      ["create", "test:admin", undefined, "campaign audited", undefined],
    ]);
    expect(changes[1]?.after?.enabled).toBe(false);
    expect(changes.every((c) => c.requestId !== "" && c.brandId === r.brandId)).toBe(true);
    // Another brand's manager learns nothing of it, as of a campaign that does not exist.
    const other = await h.auth.as({ sub: "m", role: "brand-manager", brands: [randomUUID()] });
    const outside = createClient(
      CampaignService,
      createGrpcTransport({ baseUrl: h.campaignApp.server.url, interceptors: other }),
    );
    for (const campaignId of [r.campaignId, randomUUID()])
      await expect(outside.listCampaignChanges({ campaignId })).rejects.toMatchObject({ code: Code.PermissionDenied });
    await expect(h.campaigns.listCampaignChanges({ campaignId: randomUUID() })).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });

  it("each spend event keeps the ad server that reported it, single or batched", async () => {
    const r = await resources("reported");
    const adServer = await h.auth.as({ sub: "adserver-eu-7", role: "ad-server", brands: [r.brandId] });
    const spend = createClient(
      BudgetService,
      createGrpcTransport({ baseUrl: h.budgetApp.server.url, interceptors: adServer }),
    );
    const one = await spend.recordSpend({
      eventId: "who-1",
      brandId: r.brandId,
      campaignId: r.campaignId,
      amountMicros: 1n,
    });
    expect(one.event?.reportedBy).toBe("adserver-eu-7");
    await spend.recordSpendBatch({
      events: [{ eventId: "who-2", brandId: r.brandId, campaignId: r.campaignId, amountMicros: 2n }],
    });
    await h.budget.recordSpend({ eventId: "who-3", brandId: r.brandId, campaignId: r.campaignId, amountMicros: 3n });
    // A retry by another caller is answered from the ledger: it keeps the first reporter.
    const retry = await h.budget.recordSpend({
      eventId: "who-1",
      brandId: r.brandId,
      campaignId: r.campaignId,
      amountMicros: 1n,
    });
    expect(retry).toMatchObject({ duplicate: true, event: { reportedBy: "adserver-eu-7" } });
    const { events } = await h.budget.listSpendEvents({ brandId: r.brandId });
    expect(Object.fromEntries(events.map((e) => [e.eventId, e.reportedBy]))).toEqual({
      "who-1": "adserver-eu-7",
      "who-2": "adserver-eu-7",
      "who-3": "test:admin",
    });
    // The first spend made the brand's zone final: the budget service's lock is in its log, once.
    const locks = (await h.brands.listBrandChanges({ brandId: r.brandId })).changes.filter(
      (c) => c.action === "lock_time_zone",
    );
    expect(locks.map((c) => [c.principal, c.before?.timeZoneLocked, c.after?.timeZoneLocked])).toEqual([
      ["service:budget", false, true],
    ]);
  });
});
