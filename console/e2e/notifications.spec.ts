// Notifications as an app user keeps them: a webhook receiver refused for its URL (the API's
// error on the field), then created pointing at a closed port; its test message fails and the
// table shows why; a subscription to it created and edited; the receiver's delete refused while
// the subscription sends to it (the API's message), then both deleted.
import { expect, test } from "@playwright/test";
import { shot, signIn } from "./signin";

// Nothing listens there (the discard port): the test message cannot be delivered.
const CLOSED = "http://127.0.0.1:9/lifeboat";

test("an app user's webhook receiver and subscription: field error, failed test, refused delete", async ({ page }) => {
  const receiver = `hook-${Date.now()}`;
  const subscription = `${receiver}-failures`;
  await signIn(page, "appuser");
  await page.getByRole("navigation", { name: "Lifeboat" }).getByRole("link", { name: "Notifications" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Notifications" })).toBeVisible();

  // A URL that is not one: the API's message under the URL field, nothing created.
  await page.getByRole("button", { name: "Add receiver" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name").fill(receiver);
  await expect(dialog.getByLabel("Kind")).toHaveValue("webhook");
  await dialog.getByLabel("URL").fill("hooks.example.com/lifeboat");
  await dialog.getByLabel("Signing secret").fill("a-webhook-secret-of-24ch");
  await dialog.getByRole("button", { name: "Create" }).click();
  await expect(dialog.getByLabel("URL")).toHaveAccessibleDescription(/http or https URL/);
  await shot(page, "notifications-receiver-url-error");
  await dialog.getByLabel("URL").fill(CLOSED);
  await dialog.getByRole("button", { name: "Create" }).click();
  await expect(dialog).toHaveCount(0);

  await page.getByRole("textbox", { name: "Filter receivers by name" }).fill(receiver);
  const receivers = page.getByRole("grid", { name: "Notification receivers" });
  const row = receivers.getByRole("row").filter({ hasText: receiver });
  await expect(row).toContainText("Webhook");
  await expect(row).toContainText("127.0.0.1:9");
  await expect(row).toContainText("appuser");

  // The test message: through the worker, refused by the closed port; the table keeps the error.
  await row.getByRole("button", { name: `Send a test to ${receiver}` }).click();
  const test_ = page.getByRole("dialog", { name: `Test message to ${receiver}` });
  await expect(test_.getByText("Not delivered")).toBeVisible({ timeout: 120_000 });
  await expect(test_).toContainText("the webhook did not answer");
  await shot(page, "notifications-test-failed");
  await test_.getByRole("button", { name: "Close" }).click();
  await expect(row).toContainText("the webhook did not answer");

  // A subscription to it, for every backup and restore of appuser's; then edited.
  await page.getByRole("button", { name: "Add subscription" }).click();
  await dialog.getByLabel("Name").fill(subscription);
  await dialog.getByLabel("Receiver").selectOption({ label: `${receiver} (Webhook)` });
  await expect(dialog.getByLabel("Backup failed")).toBeChecked();
  await expect(dialog.getByLabel("Backup schedule")).toHaveValue("");
  await dialog.getByRole("button", { name: "Create" }).click();
  await expect(dialog).toHaveCount(0);
  await page.getByRole("textbox", { name: "Filter subscriptions by name" }).fill(subscription);
  const subscriptions = page.getByRole("grid", { name: "Notification subscriptions" });
  const subscribed = subscriptions.getByRole("row").filter({ hasText: subscription });
  await expect(subscribed).toContainText(receiver);
  await expect(subscribed).toContainText("Backup failed");
  await expect(subscribed).toContainText("all my backups and restores");
  await expect(subscribed).not.toContainText("Backup succeeded");

  await subscribed.getByRole("button", { name: `Edit ${subscription}` }).click();
  await expect(dialog.getByLabel("Name")).toHaveValue(subscription);
  await dialog.getByLabel("Backup succeeded").check();
  await dialog.getByLabel("Restore failed").uncheck();
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(subscribed).toContainText("Backup succeeded");
  await expect(subscribed).not.toContainText("Restore failed");
  await shot(page, "notifications-subscribed");

  // The receiver is in use: the API refuses its delete and says by what.
  await row.getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByRole("dialog", { name: `Delete ${receiver}?` });
  await confirm.getByRole("button", { name: "Delete" }).click();
  await expect(confirm.getByText("Refused")).toBeVisible();
  await expect(confirm).toContainText(`used by subscription(s) ${subscription}`);
  await shot(page, "notifications-delete-refused");
  await confirm.getByRole("button", { name: "Cancel" }).click();

  await subscribed.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: `Delete ${subscription}?` }).getByRole("button", { name: "Delete" }).click();
  await expect(subscribed).toHaveCount(0);
  await row.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: `Delete ${receiver}?` }).getByRole("button", { name: "Delete" }).click();
  await expect(row).toHaveCount(0);
});
