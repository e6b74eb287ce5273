// Each built-in role sees exactly the navigation and actions the privilege matrix allows.
import { expect, test } from "@playwright/test";
import { shot, signIn } from "./signin";

const EVERYONE = ["Home", "All Shared Clusters", "All Backups"];
// Notifications: every role keeps its own receivers and subscriptions.
const SETTINGS = ["Schedule Policies", "Cloud Accounts", "Backup Locations", "Rules", "Notifications"];
const TAIL = ["Lighthouse", "Service Status", "License", "User Profile"];

const MENUS: Record<string, string[]> = {
  superadmin: [...EVERYONE, ...SETTINGS, ...TAIL, "User Management"],
  infraadmin: [...EVERYONE, ...SETTINGS, ...TAIL, "User Management"],
  appadmin: [...EVERYONE, ...SETTINGS, ...TAIL],
  appuser: [...EVERYONE, ...SETTINGS, ...TAIL],
  nobody: ["User Profile"],
};

// Whether the role may create each settings kind (seeds/002).
const CREATES: Record<string, Record<string, boolean>> = {
  superadmin: { "Cloud Accounts": true, "Backup Locations": true },
  infraadmin: { "Cloud Accounts": true, "Backup Locations": true },
  appadmin: { "Cloud Accounts": false, "Backup Locations": true },
  appuser: { "Cloud Accounts": false, "Backup Locations": false },
};

for (const [user, menu] of Object.entries(MENUS)) {
  test(`${user} sees the menu and actions of their role`, async ({ page }) => {
    await signIn(page, user);
    const nav = page.getByRole("navigation", { name: "Lifeboat" });
    await expect(nav.getByRole("link")).toHaveText(menu);
    await shot(page, `home-${user}`);
    if (user === "nobody") {
      await expect(page.getByText("You have no Lifeboat role")).toBeVisible();
      return;
    }
    for (const [page_, creates] of Object.entries(CREATES[user] ?? {})) {
      await nav.getByRole("link", { name: page_ }).click();
      await expect(page.getByRole("heading", { level: 1, name: page_ })).toBeVisible();
      await expect(page.getByRole("button", { name: "Add", exact: true })).toHaveCount(creates ? 1 : 0);
    }
    await nav.getByRole("link", { name: "Service Status" }).click();
    await expect(page.getByRole("grid", { name: "Service Status" })).toContainText("catalog");
    await shot(page, `service-status-${user}`);
  });
}

test("signing out ends the session at the provider too", async ({ page }) => {
  await signIn(page, "appuser");
  await page.getByRole("button", { name: "appuser" }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page.getByText("You have been disconnected")).toBeVisible();
  await page.goto("/");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByLabel("Login")).toBeVisible();
});

test("a 404 from the API shows its message", async ({ page }) => {
  await signIn(page, "appuser");
  await page.goto("/backups/no-such-backup");
  await expect(page.getByText("Not found")).toBeVisible();
  await expect(page.getByText(/no-such-backup|not found/i).first()).toBeVisible();
});

test("a token the API refuses is renewed with the refresh token, without signing in again", async ({ page }) => {
  await signIn(page, "appadmin");
  // What the API answers for a token too old to accept: 401.
  await page.evaluate(() => {
    const key = Object.keys(sessionStorage).find((k) => k.startsWith("oidc.user:"))!;
    sessionStorage.setItem(key, JSON.stringify({ ...JSON.parse(sessionStorage.getItem(key)!), access_token: "refused" }));
  });
  const visited: string[] = [];
  page.on("framenavigated", (frame) => visited.push(frame.url()));
  await page.goto("/service-status");
  await expect(page.getByRole("grid", { name: "Service Status" })).toContainText("catalog");
  await expect(page.getByRole("button", { name: "appadmin" })).toBeVisible();
  // Renewed in the background: the page never went through the provider's sign-in and back
  // (which, with the provider's session still open, would look the same but for the redirects).
  expect(visited.map((url) => new URL(url).pathname).filter((path) => path !== "/service-status")).toEqual([]);
});
