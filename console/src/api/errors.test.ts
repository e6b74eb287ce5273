import { describe, expect, it } from "vitest";
import { apiError, errorMessage, fieldError } from "./errors";

describe("apiError", () => {
  it("keeps the API's message and field", () => {
    const error = apiError(422, { error: { code: "invalid", message: "kubeconfig has no current-context", field: "kubeconfig" } });
    expect(error.message).toBe("kubeconfig has no current-context");
    expect(fieldError(error, "kubeconfig")).toBe("kubeconfig has no current-context");
    expect(fieldError(error, "name")).toBeUndefined();
  });
  it("matches a nested field to its form field", () => {
    const error = apiError(422, { error: { code: "invalid", message: "bad key", field: "credentials.secret_access_key" } });
    expect(fieldError(error, "credentials")).toBe("bad key");
  });
  it("says something useful when the body is not the API's", () => {
    expect(apiError(404, "<html>").message).toMatch(/not found/i);
    expect(apiError(418, null).message).toBe("The API answered 418.");
    expect(errorMessage(new TypeError("Failed to fetch"))).toBe("The API did not answer: Failed to fetch");
  });
});
