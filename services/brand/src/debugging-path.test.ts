import { execFile } from "node:child_process";
import * as http from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBrandHarness, toolBinary, type BrandHarness } from "@adbudget/testing";

/**
 * The path an engineer takes when debugging: tools that know nothing but the address, learning
 * the API from gRPC reflection, and plain HTTP/1.1 with a JSON body.
 */
const run = promisify(execFile);

const buf = join(import.meta.dirname, "../../../node_modules/.bin/buf");

let h: BrandHarness;
let address: string;
beforeAll(async () => {
  h = await startBrandHarness();
  address = `127.0.0.1:${h.app.server.port}`;
});
afterAll(async () => {
  await h?.close();
});

describe("grpcurl with reflection only", () => {
  const grpcurl = (...args: string[]) =>
    run(toolBinary("grpcurl"), ["-plaintext", "-H", `authorization: Bearer ${h.auth.adminToken}`, ...args], {
      timeout: 20_000,
    });

  it("lists the services", async () => {
    const { stdout } = await grpcurl(address, "list");
    expect(stdout.trim().split("\n").sort()).toEqual([
      "adbudget.brand.v1.BrandService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
  });

  it("describes BrandService with the API docs from the proto comments", async () => {
    const { stdout } = await grpcurl(address, "describe", "adbudget.brand.v1.BrandService");
    expect(stdout).toContain("rpc CreateBrand ( .adbudget.brand.v1.CreateBrandRequest )");
    expect(stdout).toContain("// Creates a brand. Names are unique");
    const msg = await grpcurl(address, "describe", "adbudget.brand.v1.CreateBrandRequest");
    expect(msg.stdout).toContain("string time_zone = 2");
  });

  it("does not know the services other servers serve", async () => {
    await expect(grpcurl(address, "describe", "adbudget.budget.v1.BudgetService")).rejects.toMatchObject({
      stderr: expect.stringContaining("Symbol not found"),
    });
  });

  it("creates a brand from a JSON body", async () => {
    const { stdout } = await grpcurl(
      "-d",
      JSON.stringify({ name: "Made by grpcurl", time_zone: "Europe/London" }),
      address,
      "adbudget.brand.v1.BrandService/CreateBrand",
    );
    const { brand } = JSON.parse(stdout);
    expect(brand).toMatchObject({ name: "Made by grpcurl", timeZone: "Europe/London", currencyCode: "USD" });
    expect((await h.client.getBrand({ id: brand.id })).brand?.name).toBe("Made by grpcurl");
  });

  it("shows field violations for a bad request", async () => {
    const failed = await grpcurl(
      "-d",
      '{"name":"Bad zone","time_zone":"Mars/Olympus"}',
      address,
      "adbudget.brand.v1.BrandService/CreateBrand",
    ).then(
      () => undefined,
      (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
    );
    expect(failed).toContain("Code: InvalidArgument");
    expect(failed).toContain('"field": "time_zone"');
  });

  it("checks health", async () => {
    const { stdout } = await grpcurl(address, "grpc.health.v1.Health/Check");
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });
});

describe("buf curl with reflection only", () => {
  it("lists methods and creates a brand over gRPC", async () => {
    // Reflection calls carry the token too: buf curl's --reflect-header "*" copies the -H headers.
    const auth = ["-H", `authorization: Bearer ${h.auth.adminToken}`, "--reflect-header", "*"];
    const list = await run(buf, ["curl", ...auth, "--http2-prior-knowledge", "--list-methods", `http://${address}`], {
      timeout: 20_000,
    });
    expect(list.stdout).toContain("adbudget.brand.v1.BrandService/CreateBrand");
    const { stdout } = await run(
      buf,
      [
        "curl",
        ...auth,
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "-d",
        '{"name":"Made by buf curl"}',
        `http://${address}/adbudget.brand.v1.BrandService/CreateBrand`,
      ],
      { timeout: 20_000 },
    );
    expect(JSON.parse(stdout).brand.name).toBe("Made by buf curl");
  });
});

describe("plain HTTP/1.1 with JSON (Connect protocol)", () => {
  function post(path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: h.app.server.port,
          path,
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${h.auth.adminToken}` },
        },
        (res) => {
          let data = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (data += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  it("creates and gets a brand", async () => {
    const created = await post(
      "/adbudget.brand.v1.BrandService/CreateBrand",
      '{"name":"Made by HTTP/1.1","currencyCode":"CHF"}',
    );
    expect(created.status).toBe(200);
    const brand = created.json.brand as { id: string; currencyCode: string };
    expect(brand.currencyCode).toBe("CHF");
    const got = await post("/adbudget.brand.v1.BrandService/GetBrand", JSON.stringify({ id: brand.id }));
    expect(got.json.brand).toEqual(brand);
  });

  it("answers a bad request with invalid_argument as JSON", async () => {
    const res = await post("/adbudget.brand.v1.BrandService/ListBrands", '{"pageSize":5000}');
    expect(res.status).toBe(400);
    expect(res.json.code).toBe("invalid_argument");
    expect(String(res.json.message)).toContain("page_size");
  });
});
