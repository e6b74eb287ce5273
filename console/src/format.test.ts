import { describe, expect, it } from "vitest";
import { bytes, isFinal, pageOf, parseMapping, percentDone, splitList } from "./format";

describe("pageOf", () => {
  const items = Array.from({ length: 45 }, (_, i) => i);
  it("slices one page", () => {
    expect(pageOf(items, 2, 20)).toEqual({ rows: items.slice(20, 40), page: 2 });
  });
  it("shows the last page when asked past the end (after a delete), and page 1 of nothing", () => {
    expect(pageOf(items, 9, 20)).toEqual({ rows: items.slice(40), page: 3 });
    expect(pageOf([], 3, 20)).toEqual({ rows: [], page: 1 });
  });
});

describe("percentDone", () => {
  it("follows the bytes moved while running", () => {
    expect(percentDone("InProgress", { bytes_done: 25, bytes_total: 100 })).toBe(25);
    expect(percentDone("InProgress", { bytes_done: 0, bytes_total: 0 })).toBe(0);
    expect(percentDone("Pending", null)).toBe(0);
  });
  it("is full once the status is final, whatever it was", () => {
    expect(percentDone("Failed", { bytes_done: 3, bytes_total: 100 })).toBe(100);
    expect(isFinal("PartialSuccess")).toBe(true);
    expect(isFinal("InProgress")).toBe(false);
  });
});

describe("parseMapping", () => {
  it("reads from=to pairs", () => {
    expect(parseMapping(" shop=shop-copy, a = b ,")).toEqual({ shop: "shop-copy", a: "b" });
    expect(parseMapping("")).toEqual({});
  });
  it("names the entry that is not from=to", () => {
    expect(() => parseMapping("shop")).toThrow('"shop" is not from=to');
    expect(() => parseMapping("a=b=c")).toThrow('"a=b=c"');
  });
});

describe("bytes", () => {
  it("uses binary units", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(138890)).toBe("135.6 KiB");
  });
});

describe("splitList", () => {
  it("reads a comma-separated list, dropping blanks", () => {
    expect(splitList(" configmaps, deployments.apps ,,")).toEqual(["configmaps", "deployments.apps"]);
    expect(splitList("")).toEqual([]);
  });
});
