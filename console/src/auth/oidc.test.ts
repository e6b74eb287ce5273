import { describe, expect, it } from "vitest";
import { returnPath } from "./oidc";

describe("returnPath", () => {
  it("goes back to the console page the user was on", () => {
    expect(returnPath("/backups/abc?x=1")).toBe("/backups/abc?x=1");
  });
  it("never leaves the console, nor returns to the callback", () => {
    expect(returnPath("//evil.example/")).toBe("/");
    expect(returnPath("https://evil.example/")).toBe("/");
    expect(returnPath("/auth/callback?code=1")).toBe("/");
    expect(returnPath(undefined)).toBe("/");
  });
});
