import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, newestMail, signIn } from "./support";

test("an admin invites a client, who chooses a password and signs in to the branded portal", async ({ page, browser }, info) => {
  const marta = account("admin");
  const suffix = `${info.project.name}-${Date.now()}`;
  const organization = `Grupo Casiopea ${suffix}`;
  const invitee = `nueva-${suffix}@casiopea.example`;

  await signIn(page, marta);
  await page.getByRole("navigation").getByRole("link", { name: "Clientes" }).click();
  await expect(page).toHaveURL(`${baseUrl()}/admin/clients`);
  await hydrated(page);
  await page.getByLabel("Nombre de la organización").fill(organization);
  await page.getByRole("button", { name: "Crear" }).click();
  await expect(page.getByRole("row", { name: new RegExp(organization) })).toBeVisible();

  await page.getByRole("navigation").getByRole("link", { name: "Personas" }).click();
  await expect(page).toHaveURL(`${baseUrl()}/admin/people`);
  await hydrated(page);
  // A bad address is refused with a translated message and nothing typed is lost.
  await page.getByLabel("Nombre", { exact: true }).fill("Nuria Nueva");
  await page.getByLabel("Correo electrónico").fill("nuria@");
  await page.getByRole("button", { name: "Enviar la invitación" }).click();
  await expect(page.getByRole("alert")).toHaveText("Esa dirección de correo electrónico no es válida.");
  await expect(page.getByLabel("Nombre", { exact: true })).toHaveValue("Nuria Nueva");

  await page.getByLabel("Correo electrónico").fill(invitee);
  await page.getByLabel("Rol").selectOption({ label: "Cliente" });
  await page.getByLabel("Organización").selectOption({ label: organization });
  await page.getByRole("button", { name: "Enviar la invitación" }).click();
  const row = page.getByTestId("person-row").filter({ hasText: invitee });
  await expect(row).toContainText("Invitación pendiente");
  await expect(row).toContainText(organization);

  // The invitee, in another browser, follows the e-mailed link.
  const mail = await newestMail(invitee);
  expect(mail.subject).toBe("Observatorio Astronómico de Demostración te invita a su portal de soporte");
  const link = new URL(mail.body.match(/https?:\/\/\S+\/invitation\?token=[0-9a-f]{64}/)![0]);
  const context = await browser.newContext({ locale: "es-ES" });
  const guest = await context.newPage();
  await guest.goto(`${baseUrl()}${link.pathname}${link.search}`);
  await hydrated(guest);
  await guest.getByLabel("Contraseña nueva").fill("la luna llena de agosto");
  await guest.getByRole("button", { name: "Guardar la contraseña" }).click();
  await expect(guest).toHaveURL(/\/sign-in\?password_set=1$/);
  await signIn(guest, { role: "client", email: invitee, password: "la luna llena de agosto" });
  await expect(guest.locator("header.app-header")).toContainText("Observatorio Astronómico de Demostración");
  await expect(guest.getByTestId("profile-organization")).toHaveText(organization);
  // A client has no administration.
  await expect(guest.getByRole("navigation").getByRole("link", { name: "Personas" })).toHaveCount(0);
  await guest.goto(`${baseUrl()}/admin/people`);
  await expect(guest.getByRole("heading", { name: "Página no encontrada" })).toBeVisible();
  await context.close();

  // Back in the administration, the invitee now counts as active.
  await page.reload();
  await expect(page.getByTestId("person-row").filter({ hasText: invitee })).toContainText("Activa");
});
