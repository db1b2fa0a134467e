import { expect, test } from "@playwright/test";
import { baseUrl, createAdmin, hydrated, newestMail, signIn } from "./support";

test("forgot password: a link by e-mail sets a new password, then sign-in works with it", async ({ page }, info) => {
  // An account of its own: the password it ends with is not the one other tests know.
  const marta = createAdmin(`olvido-${info.project.name}-${Date.now()}@obs.example`, "la vieja contraseña de siempre");
  await page.goto(`${baseUrl()}/sign-in`);
  await hydrated(page);
  await page.getByRole("link", { name: "¿Has olvidado tu contraseña?" }).click();
  await expect(page).toHaveURL(`${baseUrl()}/forgot-password`);
  await hydrated(page);
  await page.getByLabel("Correo electrónico").fill(marta.email);
  await page.getByRole("button", { name: "Enviarme el enlace" }).click();
  await expect(page.getByRole("status")).toContainText("Si hay una cuenta con ese correo electrónico");

  const mail = await newestMail(marta.email);
  expect(mail.subject).toBe("Observatorio Astronómico de Demostración: elige una contraseña nueva");
  const link = mail.body.match(/https?:\/\/\S+\/reset-password\?token=[0-9a-f]{64}/)![0];
  const path = new URL(link).pathname + new URL(link).search;

  await page.goto(`${baseUrl()}${path}`);
  await hydrated(page);
  await page.getByLabel("Contraseña nueva").fill("corta");
  await page.getByRole("button", { name: "Guardar la contraseña" }).click();
  await expect(page.getByRole("alert")).toHaveText("La contraseña debe tener al menos 8 caracteres; mejor 15 o más.");

  const fresh = `cielo oscuro ${Date.now()}`;
  await page.getByLabel("Contraseña nueva").fill(fresh);
  await expect(page.getByLabel("Cerrar la sesión en todos los demás dispositivos")).toBeChecked();
  await page.getByRole("button", { name: "Guardar la contraseña" }).click();
  await expect(page).toHaveURL(/\/sign-in\?password_set=1$/);
  await expect(page.getByRole("status")).toHaveText("Contraseña guardada. Ya puedes iniciar sesión con ella.");

  // The old password no longer works; the new one does; the link is spent.
  await page.getByLabel("Correo electrónico").fill(marta.email);
  await page.getByLabel("Contraseña", { exact: true }).fill(marta.password);
  await page.getByRole("button", { name: "Iniciar sesión" }).click();
  await expect(page.getByRole("alert")).toHaveText("El correo electrónico o la contraseña no son correctos.");
  await signIn(page, { ...marta, password: fresh });
  await expect(page.getByTestId("profile-role")).toHaveText("Administración del observatorio");

  await page.goto(`${baseUrl()}${path}`);
  await expect(page.getByRole("heading", { name: "Este enlace ya no sirve" })).toBeVisible();
});
