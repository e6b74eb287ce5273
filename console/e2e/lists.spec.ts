// Lists page through the API: more schedule policies than one page (the test made them through
// the API), the last reached by next page, one found by its name; then edit forms that show the
// API's field errors on the field and keep write-only secrets when left blank.
import { expect, test, type Page } from "@playwright/test";
import { filterByName, shot, signIn } from "./signin";

// The policies' common name prefix and how many there are (tests/console made them for appadmin).
const PREFIX = process.env.LIFEBOAT_PAGED_PREFIX ?? "";
const COUNT = Number(process.env.LIFEBOAT_PAGED_COUNT ?? "0");
const nameOf = (i: number) => `${PREFIX}-${String(i).padStart(2, "0")}`;

async function openSettings(page: Page, name: string): Promise<void> {
  await page.getByRole("navigation", { name: "Lifeboat" }).getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

test("more schedule policies than a page: next page reaches the last, the name filter finds one", async ({ page }) => {
  test.skip(!PREFIX || COUNT <= 20, "needs the policies tests/console makes (LIFEBOAT_PAGED_PREFIX)");
  await signIn(page, "appadmin");
  await openSettings(page, "Schedule Policies");
  const table = page.getByRole("grid", { name: "Schedule Policies" });
  const pager = page.getByRole("navigation", { name: "Schedule Policies pagination" });
  await filterByName(page, PREFIX);
  await expect(table.getByRole("row").filter({ hasText: PREFIX })).toHaveCount(20);
  await expect(table).toContainText(nameOf(0));
  await expect(table).not.toContainText(nameOf(COUNT - 1));

  // A smaller page, then next page until the API says there is none after it.
  await page.getByRole("button", { name: "1 - 20 of more" }).click();
  await page.getByRole("menuitem", { name: "10 per page" }).click();
  await expect(table.getByRole("row").filter({ hasText: PREFIX })).toHaveCount(10);
  const next = pager.getByRole("button", { name: "Go to next page" });
  const pages = Math.ceil(COUNT / 10);
  for (let shown = 1; shown < pages; shown++) {
    await expect(next).toBeEnabled();
    await next.click();
    await expect(table).toContainText(nameOf(shown * 10));
  }
  await expect(table).toContainText(nameOf(COUNT - 1));
  await expect(table.getByRole("row").filter({ hasText: PREFIX })).toHaveCount(COUNT - (pages - 1) * 10);
  await expect(next).toBeDisabled();
  await expect(page.getByRole("button", { name: `${(pages - 1) * 10 + 1} - ${COUNT} of ${COUNT}` })).toBeVisible();
  await shot(page, "paged-policies-last-page");
  await pager.getByRole("button", { name: "Go to previous page" }).click();
  await expect(table).toContainText(nameOf((pages - 2) * 10));

  // A name the API finds on a page the browser never read.
  await filterByName(page, nameOf(COUNT - 2));
  await expect(table.getByRole("row").filter({ hasText: PREFIX })).toHaveCount(1);
  await expect(table).toContainText(nameOf(COUNT - 2));
  await filterByName(page, `${PREFIX}-nothing`);
  await expect(page.getByText("Nothing matches the filters")).toBeVisible();
});

test("a policy edited: the API's field error under the field, then saved", async ({ page }) => {
  test.skip(!PREFIX, "needs the policies tests/console makes (LIFEBOAT_PAGED_PREFIX)");
  await signIn(page, "appadmin");
  await openSettings(page, "Schedule Policies");
  const name = nameOf(3);
  await filterByName(page, name);
  const row = page.getByRole("row").filter({ hasText: name });
  await row.getByRole("button", { name: `Edit ${name}` }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByLabel("Name")).toHaveValue(name);
  await dialog.getByLabel("Keep last").fill("0");
  await dialog.getByRole("button", { name: "Save" }).click();
  // On the field it names (retention.keep_last): its description, as a screen reader reads it.
  await expect(dialog.getByLabel("Keep last")).toHaveAccessibleDescription(/keep_last/);
  await shot(page, "edit-policy-error");
  await dialog.getByLabel("Keep last").fill("3");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row).toContainText("keep 3");
});

test("a cloud account edited: a blank secret keeps the stored one, a new key id needs its secret", async ({ page }) => {
  const name = `acct-${Date.now()}`;
  await signIn(page, "infraadmin");
  await openSettings(page, "Cloud Accounts");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name").fill(name);
  await dialog.getByLabel("Access key id").fill("AKIAFIRST");
  await dialog.getByLabel("Secret access key").fill("first-secret");
  await dialog.getByRole("button", { name: "Create" }).click();
  await expect(dialog).toHaveCount(0);
  await filterByName(page, name);
  const row = page.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText("AKIAFIRST");

  await row.getByRole("button", { name: `Edit ${name}` }).click();
  // The secret is never shown: the field starts blank, and blank keeps it.
  await expect(dialog.getByLabel("Secret access key")).toHaveValue("");
  await expect(dialog.getByLabel("Access key id")).toHaveValue("AKIAFIRST");
  await expect(dialog).toContainText("leave blank to keep the stored one");
  await dialog.getByLabel("Name").fill(`${name}-renamed`);
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog).toHaveCount(0);
  await filterByName(page, `${name}-renamed`);
  const renamed = page.getByRole("row").filter({ hasText: `${name}-renamed` });
  await expect(renamed).toContainText("AKIAFIRST");

  await renamed.getByRole("button", { name: `Edit ${name}-renamed` }).click();
  await dialog.getByLabel("Access key id").fill("AKIASECOND");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog.getByLabel("Secret access key")).toHaveAccessibleDescription(/give the secret access key too/);
  await dialog.getByLabel("Secret access key").fill("second-secret");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(renamed).toContainText("AKIASECOND");
  await shot(page, "edited-cloud-account");
});
