import { describe, expect, it } from "vitest";
import { parsePgUrl, pgUrlWithDatabase } from "./pg-url.js";

describe("parsePgUrl", () => {
  it.each([
    ["postgres://u@db:6543/app", [["db", 6543]], false, "app"],
    ["postgresql://db/app", [["db", 5432]], false, "app"],
    [
      "postgres://u:p@a:5441,b:5442/app?target_session_attrs=read-write",
      [
        ["a", 5441],
        ["b", 5442],
      ],
      true,
      "app",
    ],
    [
      "postgres://[::1]:5433,127.0.0.1/x?target_session_attrs=primary",
      [
        ["::1", 5433],
        ["127.0.0.1", 5432],
      ],
      true,
      "x",
    ],
    ["postgres://u@db", [["db", 5432]], false, ""],
  ] as const)("%s", (text, hosts, readWrite, database) => {
    const url = parsePgUrl(text);
    expect(url.hosts.map((h) => [h.host, h.port])).toEqual(hosts);
    expect(url.readWrite).toBe(readWrite);
    expect(url.database).toBe(database);
  });

  it("gives each server a one-host URL with everything else as given, target_session_attrs left out", () => {
    const url = parsePgUrl("postgres://u:p%40ss@a:5441,[::1]:5442/app?sslmode=disable&target_session_attrs=read-write");
    expect(url.hosts.map((h) => url.forHost(h))).toEqual([
      "postgres://u:p%40ss@a:5441/app?sslmode=disable",
      "postgres://u:p%40ss@[::1]:5442/app?sslmode=disable",
    ]);
  });

  it.each([
    ["mysql://db/app", "expected a postgres: or postgresql: URL"],
    ["postgres://a:5441,/app", 'server "": expected host or host:port'],
    ["postgres://a:99999/app", "port out of range"],
    ["postgres://a:5x/app", "expected host or host:port"],
    ["postgres://a/app?target_session_attrs=standby", "only any, read-write or primary"],
    ["not a url", "not a postgres:// URL"],
  ])("refuses %s", (text, message) => {
    expect(() => parsePgUrl(text)).toThrow(message);
  });
});

describe("pgUrlWithDatabase", () => {
  it.each([
    ["postgres://u@a:1,b:2", "orders", "postgres://u@a:1,b:2/orders"],
    [
      "postgres://u@a:1,b:2/postgres?target_session_attrs=read-write",
      "orders",
      "postgres://u@a:1,b:2/orders?target_session_attrs=read-write",
    ],
    ["postgres://db", "x y", "postgres://db/x%20y"],
    ["nonsense", "orders", "nonsense"],
  ])("%s with %s", (text, database, expected) => {
    expect(pgUrlWithDatabase(text, database)).toBe(expected);
  });
});
