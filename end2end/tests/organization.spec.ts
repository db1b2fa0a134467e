import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

test("an admin keeps a client's telescopes: add, edit, retire", async ({ page }, info) => {
  const name = `Vega ${info.project.name} ${Date.now()}`;
  await signIn(page, account("admin"));
  await page.goto(`${baseUrl()}/admin/clients`);
  await hydrated(page);
  await page.getByRole("link", { name: "Asociación Astronómica Orión" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Asociación Astronómica Orión");
  await hydrated(page);

  const add = page.locator("form").filter({ has: page.locator("#new-name") });
  await add.getByRole("button", { name: "Añadir un telescopio" }).click();
  await expect(page.getByRole("alert")).toHaveText("Escribe el nombre.");
  await page.locator("#new-name").fill(name);
  await page.locator("#new-model").fill("Celestron EdgeHD 14");
  await page.locator("#new-location").fill("Cúpula 4");
  await add.getByRole("button", { name: "Añadir un telescopio" }).click();
  const item = page.getByTestId("telescope").filter({ hasText: name });
  await expect(item).toContainText("Celestron EdgeHD 14 · Cúpula 4");
  await expect(page.locator("#new-name")).toHaveValue("");

  await item.getByText("Editar").click();
  await item.getByLabel("Ubicación (cúpula, pilar)").fill("Cúpula 5, pilar C");
  await item.getByRole("button", { name: "Guardar los cambios" }).click();
  await expect(page.getByTestId("telescope").filter({ hasText: name })).toContainText("Cúpula 5, pilar C");

  await page.getByTestId("telescope").filter({ hasText: name }).getByRole("button", { name: "Retirar" }).click();
  await expect(page.getByTestId("telescope").filter({ hasText: name })).toContainText("Retirado");
});
