import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

const brandPrimary = (page: import("@playwright/test").Page) =>
  page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--brand-primary").trim());

test("an admin changes the portal's colour, which shows at once; unreadable colours are refused", async ({ page }) => {
  await signIn(page, account("admin"));
  await page.getByRole("navigation").getByRole("link", { name: "Imagen del portal" }).click();
  await expect(page).toHaveURL(`${baseUrl()}/admin/branding`);
  await hydrated(page);

  await page.getByLabel("Color principal").fill("#ffeb3b");
  await page.getByRole("button", { name: "Guardar los cambios" }).click();
  await expect(page.getByRole("alert")).toHaveText(
    "Con ese color principal el texto blanco no se leería bien. Elige un tono más oscuro.",
  );
  expect(await brandPrimary(page)).toBe("#1f4e8c");

  try {
    await page.getByLabel("Color principal").fill("#14532d");
    // Saving reloads the page, so everything is drawn in the new colour.
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Guardar los cambios" }).click()]);
    expect(await brandPrimary(page)).toBe("#14532d");
  } finally {
    // Other tests expect the demo's own colour.
    await page.goto(`${baseUrl()}/admin/branding`);
    await hydrated(page);
    await page.getByLabel("Color principal").fill("#1f4e8c");
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Guardar los cambios" }).click()]);
    expect(await brandPrimary(page)).toBe("#1f4e8c");
  }
});
