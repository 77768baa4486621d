import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readmeBlock, readmeBlocks, retarget } from "./readme-blocks.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("the README's tested blocks", () => {
  it("are found by their markers, whole, and only those", () => {
    const md = [
      "text",
      "<!-- readme-test: one -->",
      "```sh",
      "echo 1 \\",
      "  more",
      "```",
      "```sh",
      "echo unmarked",
      "```",
      "<!-- readme-test: two -->",
      "```sh",
      "echo 2",
      "```",
    ].join("\n");
    expect([...readmeBlocks(md)]).toEqual([
      ["one", "echo 1 \\\n  more"],
      ["two", "echo 2"],
    ]);
  });

  it("refuses a name marked twice and names a missing one", () => {
    const twice = "<!-- readme-test: a -->\n```sh\nx\n```\n<!-- readme-test: a -->\n```sh\ny\n```";
    expect(() => readmeBlocks(twice)).toThrow('the README marks two blocks "readme-test: a"');
    expect(() => readmeBlock(new Map(), "gone")).toThrow('the README has no block marked "<!-- readme-test: gone -->"');
  });

  it("move only the default service addresses", () => {
    const block =
      "grpcurl 127.0.0.1:50051 list; curl http://127.0.0.1:50052/x; grpcurl 127.0.0.1:50053 y; temporal 127.0.0.1:7233";
    expect(retarget(block, { brand: "127.0.0.1:1", budget: "127.0.0.1:2", campaign: "127.0.0.1:3" })).toBe(
      "grpcurl 127.0.0.1:1 list; curl http://127.0.0.1:2/x; grpcurl 127.0.0.1:3 y; temporal 127.0.0.1:7233",
    );
  });

  it("are all in the README the walkthrough test runs", () => {
    const blocks = readmeBlocks(README);
    expect([...blocks.keys()].sort()).toEqual(["api", "walkthrough-main", "walkthrough-setup", "walkthrough-watch"]);
  });
});
