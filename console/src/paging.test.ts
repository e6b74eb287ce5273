import { describe, expect, it } from "vitest";
import { currentAfter, firstPage, nextPage, pageNumber, pageQuery, previousPage, shownRange } from "./paging";

describe("cursor paging", () => {
  it("follows next cursors forward and steps back along them", () => {
    const first = firstPage(20);
    const second = nextPage(first, "c2");
    const third = nextPage(second, "c3");
    expect([pageNumber(third), currentAfter(third)]).toEqual([3, "c3"]);
    const back = previousPage(third);
    expect([pageNumber(back), currentAfter(back)]).toEqual([2, "c2"]);
    expect(currentAfter(previousPage(back))).toBeUndefined();
  });
  it("stays on the last page (no next cursor) and on the first (nothing before)", () => {
    const last = nextPage(firstPage(20), "c2");
    expect(nextPage(last, null)).toBe(last);
    expect(nextPage(last, undefined)).toBe(last);
    const first = firstPage(20);
    expect(previousPage(first)).toBe(first);
  });
  it("asks for the filters that are set, the page size and the cursor", () => {
    expect(pageQuery({ name_prefix: "web", status: "", cluster_uid: undefined }, firstPage(50))).toEqual({
      name_prefix: "web",
      limit: 50,
    });
    expect(pageQuery({ status: "Failed" }, nextPage(firstPage(10), "abc"))).toEqual({
      status: "Failed",
      limit: 10,
      after: "abc",
    });
    expect(pageQuery({ name_prefix: "  " }, firstPage(10))).toEqual({ limit: 10 });
  });
  it("numbers the items shown on a page across the whole list", () => {
    const third = nextPage(nextPage(firstPage(20), "a"), "b");
    expect(shownRange(third, 7)).toEqual({ first: 41, last: 47 });
    expect(shownRange(firstPage(20), 0)).toEqual({ first: 1, last: 0 });
  });
});
