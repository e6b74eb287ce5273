// Federated mode, as its API reports it: the console's API calls go to an api process of the
// same stack started with LIFEBOAT_MODE=federated (tests/console), so the pages follow that
// API's /me and answers; signing in is the same provider's.
import { expect, test } from "@playwright/test";
import { filterByName, shot, signIn } from "./signin";

const FEDERATED = process.env.LIFEBOAT_FEDERATED_API_URL ?? "";

test.beforeEach(async ({ page, baseURL }) => {
  test.skip(!FEDERATED, "needs the federated api tests/console starts (LIFEBOAT_FEDERATED_API_URL)");
  const console = new URL(baseURL!).origin;
  await page.route(
    (url) => url.origin === console && url.pathname.startsWith("/api/v1/"),
    async (route) => {
      const url = new URL(route.request().url());
      await route.fulfill({ response: await route.fetch({ url: `${FEDERATED}${url.pathname}${url.search}` }) });
    },
  );
});

test("a federated super admin has cluster discovery, and no cloud accounts or app admin role", async ({ page }) => {
  await signIn(page, "superadmin");
  const nav = page.getByRole("navigation", { name: "Lifeboat" });
  await expect(nav.getByRole("link", { name: "Cluster Discovery" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Cloud Accounts" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Backup Locations" })).toBeVisible();

  await nav.getByRole("link", { name: "User Profile" }).click();
  await expect(page.getByText("federated", { exact: true })).toBeVisible();

  // Add Cluster: a kubeconfig only (EKS discovery uses cloud accounts, which this mode lacks).
  await nav.getByRole("link", { name: "Home" }).click();
  await page.getByRole("link", { name: "Add Cluster" }).click();
  await expect(page.getByLabel("Cluster name")).toBeVisible();
  await expect(page.getByRole("tab", { name: "EKS auto-discovery" })).toHaveCount(0);

  // Manage Roles offers the mode's three built-in roles.
  await nav.getByRole("link", { name: "User Management" }).click();
  await filterByName(page, "appuser");
  const row = page.getByRole("row").filter({ hasText: "appuser" }).first();
  await row.getByRole("button", { name: "Kebab toggle" }).click();
  await page.getByRole("menuitem", { name: "Manage Roles" }).click();
  const roles = page.getByRole("dialog");
  await expect(roles.getByLabel("lifeboat.app-user")).toBeVisible();
  await expect(roles.getByLabel("lifeboat.app-admin")).toHaveCount(0);
  await roles.getByRole("button", { name: "Close" }).click();

  // A discovery configuration with a garden kubeconfig the API refuses: its error on the field.
  await nav.getByRole("link", { name: "Cluster Discovery" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Cluster Discovery" })).toBeVisible();
  await page.getByRole("button", { name: "Add", exact: true }).click();
  const form = page.getByRole("dialog");
  await form.getByRole("textbox", { name: "Name", exact: true }).fill(`garden-${Date.now()}`);
  await form.getByRole("textbox", { name: "Garden kubeconfig", exact: true }).fill("apiVersion: v1\nkind: Config\nclusters: []\n");
  await form.getByRole("button", { name: "Create" }).click();
  await expect(form).toContainText("garden_kubeconfig");
  await shot(page, "federated-discovery-error");
});

test("a federated app admin holds no role there", async ({ page }) => {
  await signIn(page, "appadmin");
  await expect(page.getByRole("navigation", { name: "Lifeboat" }).getByRole("link")).toHaveText(["User Profile"]);
  await expect(page.getByText("You have no Lifeboat role")).toBeVisible();
});
