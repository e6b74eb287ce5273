// Notifications: what the console shows of receivers and subscriptions, and the bodies its
// forms send. The form values are keyed by the API's field paths (`webhook.url`), so an error
// the API names a field of lands on that field.
import type { Schemas } from "./api/client";
import { ApiError } from "./api/errors";
import { splitList } from "./format";

export type Receiver = Schemas["ReceiverRead"];
export type ReceiverKind = Schemas["ReceiverKind"];
export type Subscription = Schemas["SubscriptionRead"];
export type NotificationEvent = Schemas["NotificationEvent"];
export type FormValues = Record<string, string>;

export const KIND_LABELS: Record<ReceiverKind, string> = { webhook: "Webhook", email: "Email" };

export const EVENT_LABELS: Record<NotificationEvent, string> = {
  "backup.failed": "Backup failed",
  "backup.partially_failed": "Backup partially failed",
  "backup.succeeded": "Backup succeeded",
  "restore.failed": "Restore failed",
  "restore.succeeded": "Restore succeeded",
};
export const EVENTS = Object.keys(EVENT_LABELS) as NotificationEvent[];

/** What a subscription without a schedule covers (the API: every backup and restore its owner owns). */
export const ALL_MINE = "all my backups and restores";

// Recipients shown in a table cell before "and N more" (a receiver may have 50).
const SHOWN_RECIPIENTS = 3;

/** Where a receiver sends: a webhook's URL host, or the SMTP server and the recipients. */
export function receiverTarget(receiver: Receiver): string {
  if (receiver.webhook) {
    try {
      return new URL(receiver.webhook.url).host;
    } catch {
      return receiver.webhook.url;
    }
  }
  if (receiver.email) {
    const { smtp_host, smtp_port, to_addresses } = receiver.email;
    const more = to_addresses.length - SHOWN_RECIPIENTS;
    const to = to_addresses.slice(0, SHOWN_RECIPIENTS).join(", ") + (more > 0 ? ` and ${more} more` : "");
    return `${smtp_host}:${smtp_port} to ${to}`;
  }
  return "-";
}

export type LastDelivery = { state: "never" } | { state: "delivered"; at: string } | { state: "failed"; at: string; error: string };

/** The receiver's last delivery or test: never tried, delivered, or why it failed. */
export function lastDelivery(receiver: Receiver): LastDelivery {
  if (!receiver.last_delivery_at) return { state: "never" };
  if (receiver.last_delivery_error) return { state: "failed", at: receiver.last_delivery_at, error: receiver.last_delivery_error };
  return { state: "delivered", at: receiver.last_delivery_at };
}

/** What an edit form starts with: the stored settings, never a secret. */
export function receiverValues(receiver: Receiver): FormValues {
  const values: FormValues = { name: receiver.name, kind: receiver.kind };
  if (receiver.webhook) values["webhook.url"] = receiver.webhook.url;
  if (receiver.email) {
    const e = receiver.email;
    Object.assign(values, {
      "email.smtp_host": e.smtp_host,
      "email.smtp_port": String(e.smtp_port),
      "email.starttls": String(e.starttls),
      "email.username": e.username,
      "email.from_address": e.from_address,
      "email.to_addresses": e.to_addresses.join(", "),
    });
  }
  return values;
}

/** The SMTP port as typed; anything but a number is refused on its field, as the API would. */
function portOf(text: string): number {
  if (!/^\d+$/.test(text)) throw new ApiError(422, "the SMTP port is a number such as 587", "email.smtp_port");
  return Number(text);
}

/** The settings block of the form's kind; a blank secret or password is left out (on an edit
 * the stored one stays; on a create the API says it is missing). */
function kindBlock(v: FormValues) {
  const secret = v["webhook.secret"] ?? "";
  const password = v["email.password"] ?? "";
  const port = (v["email.smtp_port"] ?? "").trim();
  return v.kind === "email"
    ? {
        email: {
          smtp_host: v["email.smtp_host"] ?? "",
          ...(port ? { smtp_port: portOf(port) } : {}),
          starttls: (v["email.starttls"] ?? "true") === "true",
          username: v["email.username"] ?? "",
          from_address: v["email.from_address"] ?? "",
          to_addresses: splitList(v["email.to_addresses"] ?? ""),
          ...(password ? { password } : {}),
        },
      }
    : { webhook: { url: v["webhook.url"] ?? "", ...(secret ? { secret } : {}) } };
}

export function receiverCreate(v: FormValues): Schemas["ReceiverCreate"] {
  return { name: v.name ?? "", ...kindBlock(v) } as Schemas["ReceiverCreate"];
}

/** The PATCH of an edit: name and the kind's settings, whole (the API replaces them). */
export function receiverUpdate(v: FormValues): Schemas["ReceiverUpdate"] {
  return { name: v.name ?? "", ...kindBlock(v) };
}

export interface SubscriptionValues {
  name: string;
  receiver_uid: string;
  events: NotificationEvent[];
  /** "" for every backup and restore of the owner. */
  schedule_uid: string;
}

/** The subscription's fields as the API takes them: no schedule is null (all of the owner's). */
export function subscriptionBody(v: SubscriptionValues): Schemas["SubscriptionCreate"] {
  return { name: v.name, receiver_uid: v.receiver_uid, events: [...v.events], schedule_uid: v.schedule_uid || null };
}

/** The events in the order the form lists them, whatever order they were ticked in. */
export function toggleEvent(events: NotificationEvent[], event: NotificationEvent, on: boolean): NotificationEvent[] {
  const chosen = new Set(events);
  if (on) chosen.add(event);
  else chosen.delete(event);
  return EVENTS.filter((e) => chosen.has(e));
}

/** A schedule's name, the scope of a subscription without one, or the uid of one not seen. */
export function scheduleLabel(uid: string | null | undefined, names: Map<string, string>): string {
  if (!uid) return ALL_MINE;
  return names.get(uid) ?? uid;
}
