import { expect, test } from "@playwright/test";
import { baseUrl, createAdmin, hydrated, newestMail, signIn } from "./support";

test("my account: name, password and signing out the other devices", async ({ page, browser }, info) => {
  const me = createAdmin(`cuenta-${info.project.name}-${Date.now()}@obs.example`, "primera frase de acceso");
  await signIn(page, me);
  await page.getByRole("navigation").getByRole("link", { name: "Mi cuenta" }).click();
  await expect(page).toHaveURL(`${baseUrl()}/account`);
  await hydrated(page);

  const profile = page.getByRole("region", { name: "Datos personales" });
  await profile.getByLabel("Nombre", { exact: true }).fill("Rita Renombrada");
  await profile.getByRole("button", { name: "Guardar los cambios" }).click();
  await expect(page.locator(".user-name")).toHaveText("Rita Renombrada");

  // Her own time zone: the page comes back with every date in it, named.
  await hydrated(page);
  const zone = profile.getByLabel("Zona horaria");
  await expect(zone).toHaveValue("");
  await expect(zone.locator("option").first()).toHaveText(/^La del observatorio \(.+\)$/);
  await zone.selectOption("Pacific/Honolulu");
  await profile.getByRole("button", { name: "Guardar los cambios" }).click();
  await expect(page.getByTestId("session-row").first().locator("time").first()).toHaveText(/ HST$/);
  await hydrated(page);
  await expect(profile.getByLabel("Zona horaria")).toHaveValue("Pacific/Honolulu");

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

test("a notification address takes effect only after its link is confirmed", async ({ page }, info) => {
  const me = createAdmin(`avisos-${info.project.name}-${Date.now()}@obs.example`, "frase para los avisos");
  const other = `otra-${info.project.name}-${Date.now()}@guardia.example`;
  await signIn(page, me);
  await page.goto(`${baseUrl()}/account`);
  await hydrated(page);
  await expect(page.getByTestId("notifications-go-to")).toHaveText(`Los avisos llegan ahora a ${me.email}.`);

  const notifications = page.getByRole("region", { name: "Avisos" });
  await notifications.getByLabel("Correo para los avisos").fill("otra@");
  await notifications.getByRole("button", { name: "Guardar los cambios" }).click();
  await expect(notifications.getByRole("alert")).toHaveText("Esa dirección de correo electrónico no es válida.");
  await notifications.getByLabel("Correo para los avisos").fill(other);
  await notifications.getByRole("button", { name: "Guardar los cambios" }).click();
  await expect(page.getByTestId("notification-pending")).toHaveText(`Pendiente de confirmar: ${other}.`);

  const link = new URL((await newestMail(other)).body.match(/https?:\/\/\S+\/confirm-email\?token=[0-9a-f]{64}/)![0]);
  await page.goto(`${baseUrl()}${link.pathname}${link.search}`);
  await hydrated(page);
  // Opening the link changed nothing yet: the button does.
  await page.getByRole("button", { name: "Confirmar esta dirección" }).click();
  await expect(page.getByRole("status")).toHaveText(`Listo: los avisos llegarán a ${other}.`);

  await page.goto(`${baseUrl()}/account`);
  await expect(page.getByTestId("notifications-go-to")).toHaveText(`Los avisos llegan ahora a ${other}.`);
  await expect(page.getByTestId("notification-pending")).toHaveCount(0);
});
