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

  it("never repeats the URL in a message (a password may be in it)", () => {
    for (const text of [
      "postgres://u:s3cret@h1:99999/app",
      "postgres://u:s3cret/x@h1/app",
      "postgres://u:s3cret@h 1/app",
    ])
      expect(() => parsePgUrl(text)).toThrow(/^(?!.*s3cret)/);
  });

  it("takes the last target_session_attrs, as libpq does; TLS on one host is the operator's choice", () => {
    expect(parsePgUrl("postgres://a/x?target_session_attrs=read-write&target_session_attrs=any").readWrite).toBe(false);
    expect(parsePgUrl("postgres://a/x?sslmode=require").hosts).toHaveLength(1);
    expect(parsePgUrl("postgres://a,b/x?sslmode=disable").hosts).toHaveLength(2);
  });

  it("reads a raw @ in the password as URL parsers do: up to the last @ is the user", () => {
    const url = parsePgUrl("postgres://u:p@ss@h1:1,h2:2/app");
    expect(url.hosts.map((h) => url.forHost(h))).toEqual(["postgres://u:p@ss@h1:1/app", "postgres://u:p@ss@h2:2/app"]);
    expect(decodeURIComponent(new URL(url.forHost({ host: "h2", port: 2 })).password)).toBe("p@ss");
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
    ["postgres://a:5441,/app", "server 2 of 2: expected host or host:port"],
    ["postgres://a:99999/app", "port out of range"],
    ["postgres://a:5x/app", "expected host or host:port"],
    ["postgres://a/app?target_session_attrs=standby", "only any, read-write or primary"],
    ["not a url", "not a postgres:// URL"],
    ["postgres://u:pa/ss@h1/app", "percent-encode it"],
    ["postgres://u:1234?x@h1/app", "percent-encode it"],
    ["postgres://a b/app", "server: expected host or host:port"],
    ["postgres://a/app?host=evil", "host= is not allowed"],
    ["postgres://a/app?hostaddr=10.0.0.1", "hostaddr= is not allowed"],
    ["postgres://a:1,b:2/app?sslmode=require", "TLS with several servers is not supported"],
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
