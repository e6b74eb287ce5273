// One user journey on the real stack: add a cluster (a bad kubeconfig first), back up the
// sample app to Success, restore it into a mapped namespace after a preview, share the backup;
// then a super admin invites a user and manages their roles.
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { filterByName, shot, signIn } from "./signin";

const KUBECONFIG = readFileSync(process.env.LIFEBOAT_KUBECONFIG ?? "", "utf8");
const NAMESPACE = process.env.LIFEBOAT_SAMPLE_NAMESPACE ?? "sample-shop";
const RESTORED = process.env.LIFEBOAT_RESTORED_NAMESPACE ?? `${NAMESPACE}-restored`;
const CLUSTER = `console-${Date.now()}`;
// The uid of the backup location the journey backs up to (the test made it for infraadmin).
const LOCATION = process.env.LIFEBOAT_BACKUP_LOCATION ?? "";
let sharedBackup = "";

test.describe.configure({ mode: "serial" });

test("an infra admin adds a cluster, backs it up, restores a preview, and shares the backup", async ({ page }) => {
  await signIn(page, "infraadmin");
  await page.getByRole("link", { name: "Add Cluster" }).click();
  await page.getByLabel("Cluster name").fill(CLUSTER);
  await page.getByRole("textbox", { name: "Kubeconfig", exact: true }).fill("apiVersion: v1\nkind: Config\nclusters: []\n");
  await page.getByRole("button", { name: "Add cluster" }).click();
  // The API's field error, under the field.
  await expect(page.getByText(/current-context. is missing/)).toBeVisible();
  await shot(page, "add-cluster-error");

  await page.getByRole("textbox", { name: "Kubeconfig", exact: true }).fill(KUBECONFIG);
  await page.getByRole("button", { name: "Add cluster" }).click();
  await expect(page.getByRole("heading", { level: 1, name: CLUSTER })).toBeVisible();
  await expect(page.getByText("Online")).toBeVisible({ timeout: 90_000 });
  await expect(page.getByRole("gridcell", { name: NAMESPACE, exact: true })).toBeVisible();
  await shot(page, "cluster-detail");

  await page.getByRole("link", { name: `Back up ${NAMESPACE}`, exact: true }).click();
  // The form, not the cluster page's Namespaces table still on screen while it opens.
  await expect(page.getByRole("button", { name: "Start backup" })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Namespaces", exact: true })).toHaveValue(NAMESPACE);
  await page.getByLabel("Backup location").selectOption(LOCATION);
  await page.getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByRole("progressbar")).toBeVisible();
  await expect(page.getByText("Success").first()).toBeVisible({ timeout: 150_000 });
  await expect(page.getByRole("grid", { name: "Volumes" })).toContainText("orders");
  await shot(page, "backup-detail");
  const backupUrl = page.url();
  sharedBackup = new URL(backupUrl).pathname;

  await page.getByRole("link", { name: "Restore" }).click();
  await page.getByLabel("Namespace mapping").fill(`${NAMESPACE}=${RESTORED}`);
  await page.getByRole("button", { name: "Preview" }).click();
  const preview = page.getByRole("grid", { name: "Preview of resources" });
  await expect(preview).toContainText(RESTORED, { timeout: 90_000 });
  await expect(preview).toContainText(/create/i);
  await shot(page, "restore-preview");
  await page.getByRole("button", { name: "Restore", exact: true }).click();
  await expect(page.getByText("Success").first()).toBeVisible({ timeout: 150_000 });
  await shot(page, "restore-detail");

  await page.goto(backupUrl);
  await page.getByRole("button", { name: "Share" }).click();
  await page.getByLabel("User id").fill("appuser");
  await page.getByLabel("Access").selectOption("restore");
  await page.getByRole("button", { name: "Add share" }).click();
  await expect(page.getByRole("dialog").getByText("user appuser: restore")).toBeVisible();
  await shot(page, "share-backup");
});

test("the user the backup was shared with may restore it, not delete or share it", async ({ page }) => {
  await signIn(page, "appuser");
  await page.getByRole("navigation", { name: "Lifeboat" }).getByRole("link", { name: "All Backups" }).click();
  await filterByName(page, CLUSTER);
  await page.getByRole("link", { name: new RegExp(`^${CLUSTER}-`) }).click();
  await expect(page).toHaveURL(new RegExp(`${sharedBackup}$`));
  await expect(page.getByText("restore", { exact: true })).toBeVisible();
  await expect(page.getByRole("link", { name: "Restore" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Share" })).toHaveCount(0);
  await shot(page, "shared-backup-appuser");
});

test("a backup schedule on the cluster: created from the Back up form, it blocks the cluster's deletion until deleted", async ({ page }) => {
  const policy = `daily-${Date.now()}`;
  await signIn(page, "infraadmin");
  await page.getByRole("navigation", { name: "Lifeboat" }).getByRole("link", { name: "Schedule Policies" }).click();
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByRole("dialog").getByLabel("Name").fill(policy);
  await page.getByRole("dialog").getByLabel("Every (minutes)").fill("1440");
  await page.getByRole("button", { name: "Create" }).click();
  await filterByName(page, policy);
  await expect(page.getByRole("row").filter({ hasText: policy })).toBeVisible();

  await page.getByRole("navigation", { name: "Lifeboat" }).getByRole("link", { name: "Home" }).click();
  await filterByName(page, CLUSTER);
  await page.getByRole("link", { name: CLUSTER, exact: true }).click();
  await page.getByRole("link", { name: `Back up ${NAMESPACE}`, exact: true }).click();
  await page.getByLabel("When").selectOption({ label: `On schedule policy ${policy}` });
  await page.getByRole("button", { name: "Create schedule" }).click();
  const schedules = page.getByRole("grid", { name: "Backup schedules" });
  await expect(schedules).toContainText(`${NAMESPACE}-schedule`);
  await shot(page, "cluster-schedules");

  // The API refuses to delete a cluster with schedules, and the console says why.
  await page.getByRole("button", { name: "Delete", exact: true }).first().click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("dialog")).toContainText(/schedule/i);
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();

  await schedules.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(schedules).toHaveCount(0);
});

test("a super admin invites a user and manages their roles", async ({ page }) => {
  // A new user, so that no seeded user's roles change for the tests after this one.
  const invited = `invited-${Date.now()}`;
  await signIn(page, "superadmin");
  await page.getByRole("navigation", { name: "Lifeboat" }).getByRole("link", { name: "User Management" }).click();
  await page.getByLabel("Invite user (provider user id)").fill(invited);
  await page.getByRole("button", { name: "Invite" }).click();
  await filterByName(page, invited);
  const row = page.getByRole("row").filter({ hasText: invited });
  await row.getByRole("button", { name: "Kebab toggle" }).click();
  await page.getByRole("menuitem", { name: "Manage Roles" }).click();
  await page.getByRole("dialog").getByLabel("lifeboat.app-admin").check();
  await page.getByRole("button", { name: "Save" }).click();
  await expect(row).toContainText("lifeboat.app-admin");
  await shot(page, "user-management");
});

test("an app admin creates a schedule policy, sees it with its owner, and deletes it", async ({ page }) => {
  const name = `hourly-${Date.now()}`;
  await signIn(page, "appadmin");
  await page.getByRole("navigation", { name: "Lifeboat" }).getByRole("link", { name: "Schedule Policies" }).click();
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.getByRole("dialog").getByLabel("Name").fill(name);
  await page.getByRole("dialog").getByLabel("Every (minutes)").fill("0");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("dialog")).toContainText("every_minutes");
  await page.getByRole("dialog").getByLabel("Every (minutes)").fill("60");
  await page.getByRole("button", { name: "Create" }).click();
  await filterByName(page, name);
  const row = page.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText("appadmin");
  await shot(page, "schedule-policies");
  await row.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(row).toHaveCount(0);
});

test("an infra admin discovers an EKS cluster of an aws cloud account and onboards it", async ({ page }) => {
  const eks = process.env.LIFEBOAT_EKS_CLUSTER;
  test.skip(!eks, "the stack has no local AWS API with an EKS cluster (tests/console sets one up)");
  await signIn(page, "infraadmin");
  await page.getByRole("link", { name: "Add Cluster" }).click();
  await page.getByRole("tab", { name: "EKS auto-discovery" }).click();
  await page.getByLabel("Region").fill(process.env.LIFEBOAT_EKS_REGION ?? "eu-central-1");
  await page.getByRole("button", { name: "Discover clusters" }).click();
  await page.getByRole("grid", { name: "EKS clusters" }).getByLabel(eks!).check({ timeout: 60_000 });
  await shot(page, "eks-discovery");
  await page.getByRole("button", { name: "Onboard 1 cluster" }).click();
  await filterByName(page, eks!);
  await expect(page.getByRole("grid", { name: "Clusters" })).toContainText(eks!);
});
