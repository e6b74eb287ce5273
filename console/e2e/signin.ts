// Signing in as a person does: the console's button, then the real provider's login page.
import { expect, type Page } from "@playwright/test";

export const PASSWORD = process.env.LIFEBOAT_PASSWORD ?? "lifeboat-dev";
export const ARTIFACTS = "artifacts/screenshots";

export async function signIn(page: Page, username: string): Promise<void> {
  await page.goto("/");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Login").fill(username);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("textbox", { name: "Password" }).fill(PASSWORD);
  await page.getByRole("button", { name: /sign in|continue/i }).click();
  await expect(page.getByRole("button", { name: username })).toBeVisible();
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
}

/** Types into a list's name filter (the API's name_prefix): lists are paged by the server, so
 * an item of a busy session stack may be on a later page until filtered. */
export async function filterByName(page: Page, prefix: string): Promise<void> {
  await page.getByRole("textbox", { name: "Filter by name" }).fill(prefix);
}
