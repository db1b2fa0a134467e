import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

test("support contacts: type-ahead over the organization's users, and a bad address is refused", async ({ page }, info) => {
  const guard = `guardia-${info.project.name}-${Date.now()}@orion.example`;
  await signIn(page, account("admin"));
  await page.goto(`${baseUrl()}/admin/clients/1`);
  await hydrated(page);
  const search = page.getByLabel("Busca un usuario o escribe un correo electrónico");

  // Start without Lucía (an earlier run may have saved her), which also tries removing a chip.
  const lucia = page.getByTestId("support-contact").filter({ hasText: "lucia@orion-demo.example" });
  if ((await lucia.count()) > 0) {
    await lucia.getByRole("button", { name: "Quitar lucia@orion-demo.example" }).click();
    await expect(lucia).toHaveCount(0);
  }
  await search.fill("lucí");
  await page.getByRole("button", { name: /Lucía Cliente/ }).click();
  await expect(page.getByTestId("support-contact").filter({ hasText: "lucia@orion-demo.example" })).toHaveCount(1);

  await search.fill("guardia@@orion.example");
  await search.press("Enter");
  await expect(page.locator("#contact-error")).toHaveText("Contiene un correo electrónico no válido.");
  await expect(search).toHaveValue("guardia@@orion.example");

  await search.fill(guard);
  await search.press("Enter");
  await expect(page.getByTestId("support-contact").filter({ hasText: guard })).toHaveCount(1);
  await page.getByRole("button", { name: "Guardar los cambios" }).last().click();
  await expect(page.getByRole("status").filter({ hasText: "Contactos de soporte guardados." })).toBeVisible();

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("support-contact").filter({ hasText: guard })).toHaveCount(1);
  await expect(page.getByTestId("support-contact").filter({ hasText: "lucia@orion-demo.example" })).toHaveCount(1);
});
