import { describe, expect, it } from "vitest";
import { ApiError } from "./api/errors";
import {
  ALL_MINE,
  lastDelivery,
  receiverCreate,
  receiverTarget,
  receiverUpdate,
  receiverValues,
  scheduleLabel,
  subscriptionBody,
  toggleEvent,
  type Receiver,
} from "./notifications";

const base = {
  uid: "r1",
  name: "ops",
  org_id: "o",
  labels: {},
  owner_id: "alice",
  owner: "alice",
  created_at: "2026-12-01T10:00:00Z",
  updated_at: "2026-12-01T10:00:00Z",
  last_delivery_at: null,
  last_delivery_error: "",
};
const webhook = (url: string): Receiver => ({ ...base, kind: "webhook", webhook: { url, has_secret: true }, email: null });
const email = (to: string[]): Receiver => ({
  ...base,
  kind: "email",
  webhook: null,
  email: {
    smtp_host: "smtp.example.com",
    smtp_port: 587,
    starttls: true,
    username: "",
    has_password: false,
    from_address: "lifeboat@example.com",
    to_addresses: to,
  },
});

describe("receiverTarget", () => {
  it("shows a webhook's host and port, not its path or query (they may carry tokens)", () => {
    expect(receiverTarget(webhook("https://hooks.example.com/lifeboat?token=x"))).toBe("hooks.example.com");
    expect(receiverTarget(webhook("http://127.0.0.1:9/hook"))).toBe("127.0.0.1:9");
  });
  it("shows the SMTP server and the first recipients, then how many more", () => {
    expect(receiverTarget(email(["a@example.com"]))).toBe("smtp.example.com:587 to a@example.com");
    const five = ["a", "b", "c", "d", "e"].map((n) => `${n}@example.com`);
    expect(receiverTarget(email(five))).toBe("smtp.example.com:587 to a@example.com, b@example.com, c@example.com and 2 more");
  });
});

describe("lastDelivery", () => {
  it("is never before a first delivery or test, delivered without an error, failed with it", () => {
    expect(lastDelivery(webhook("https://h.example.com"))).toEqual({ state: "never" });
    const at = "2026-12-02T10:00:00Z";
    expect(lastDelivery({ ...webhook("https://h.example.com"), last_delivery_at: at })).toEqual({ state: "delivered", at });
    expect(lastDelivery({ ...webhook("https://h.example.com"), last_delivery_at: at, last_delivery_error: "refused" })).toEqual({
      state: "failed",
      at,
      error: "refused",
    });
  });
});

describe("receiver bodies", () => {
  it("creates a webhook with its secret", () => {
    expect(receiverCreate({ name: "ops", kind: "webhook", "webhook.url": "https://h.example.com", "webhook.secret": "s".repeat(16) })).toEqual({
      name: "ops",
      webhook: { url: "https://h.example.com", secret: "s".repeat(16) },
    });
  });
  it("leaves a blank secret or password out of an edit, so the stored one stays", () => {
    const stored = receiverValues(webhook("https://h.example.com"));
    expect(stored["webhook.secret"]).toBeUndefined();
    expect(receiverUpdate({ ...stored, "webhook.secret": "" })).toEqual({ name: "ops", webhook: { url: "https://h.example.com" } });
    const mail = receiverValues(email(["a@example.com", "b@example.com"]));
    expect(receiverUpdate({ ...mail, "email.to_addresses": "a@example.com, c@example.com," })).toEqual({
      name: "ops",
      email: {
        smtp_host: "smtp.example.com",
        smtp_port: 587,
        starttls: true,
        username: "",
        from_address: "lifeboat@example.com",
        to_addresses: ["a@example.com", "c@example.com"],
      },
    });
  });
  it("sends the API's default port when blank, and refuses a port that is not a number on its field", () => {
    const values = { name: "m", kind: "email", "email.smtp_host": "smtp.example.com", "email.to_addresses": "a@example.com" };
    expect(receiverCreate(values)).not.toHaveProperty("email.smtp_port");
    let refused: unknown;
    try {
      receiverCreate({ ...values, "email.smtp_port": "25x" });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).field).toBe("email.smtp_port");
  });
});

describe("subscriptions", () => {
  it("sends no schedule as null: every backup and restore of the owner", () => {
    expect(subscriptionBody({ name: "s", receiver_uid: "r1", events: ["backup.failed"], schedule_uid: "" })).toEqual({
      name: "s",
      receiver_uid: "r1",
      events: ["backup.failed"],
      schedule_uid: null,
    });
    expect(scheduleLabel(null, new Map())).toBe(ALL_MINE);
    expect(scheduleLabel("sch1", new Map([["sch1", "nightly"]]))).toBe("nightly");
    expect(scheduleLabel("gone", new Map())).toBe("gone");
  });
  it("keeps the ticked events in the form's order, once each", () => {
    expect(toggleEvent(["restore.failed"], "backup.failed", true)).toEqual(["backup.failed", "restore.failed"]);
    expect(toggleEvent(["backup.failed", "restore.failed"], "backup.failed", true)).toEqual(["backup.failed", "restore.failed"]);
    expect(toggleEvent(["backup.failed", "restore.failed"], "backup.failed", false)).toEqual(["restore.failed"]);
  });
});
