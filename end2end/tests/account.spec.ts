import { expect, test } from "@playwright/test";
import { baseUrl, createAdmin, hydrated, signIn } from "./support";

test("my account: name, password and signing out the other devices", async ({ page, browser }, info) => {
  const me = createAdmin(`cuenta-${info.project.name}-${Date.now()}@obs.example`, "primera frase de acceso");
  await signIn(page, me);
  await page.getByRole("navigation").getByRole("link", { name: "Mi cuenta" }).click();
  await expect(page).toHaveURL(`${baseUrl()}/account`);
  await hydrated(page);

  await page.getByLabel("Nombre", { exact: true }).fill("Rita Renombrada");
  await page.getByRole("button", { name: "Guardar los cambios" }).click();
  await expect(page.locator(".user-name")).toHaveText("Rita Renombrada");

  await hydrated(page);
  await page.getByLabel("Contraseña actual").fill("no es esta");
  await page.getByLabel("Contraseña nueva").fill("segunda frase de acceso");
  await page.getByRole("button", { name: "Guardar la contraseña" }).click();
  await expect(page.getByRole("alert")).toHaveText("La contraseña actual no es correcta.");
  await page.getByLabel("Contraseña actual").fill(me.password);
  await page.getByRole("button", { name: "Guardar la contraseña" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Contraseña cambiada." })).toBeVisible();

  // Another device signs in with the new password; both sessions are listed.
  const other = await browser.newContext({ locale: "es-ES" });
  const phone = await other.newPage();
  await signIn(phone, { ...me, password: "segunda frase de acceso" });
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("session-row")).toHaveCount(2);
  await expect(page.getByTestId("session-row").filter({ hasText: "Este dispositivo" })).toHaveCount(1);

  await page.getByRole("button", { name: "Cerrar la sesión en todos los demás dispositivos" }).click();
  await expect(page.getByTestId("session-row")).toHaveCount(1);
  await phone.goto(`${baseUrl()}/account`);
  await expect(phone).toHaveURL(`${baseUrl()}/sign-in`);
  await other.close();
});
