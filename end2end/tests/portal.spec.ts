import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

test("a client signs in, sees the branded home, switches language and signs out", async ({ page }) => {
  const lucia = account("client", 0);
  await signIn(page, lucia);

  const header = page.locator("header.app-header");
  await expect(header).toContainText("Observatorio Astronómico de Demostración");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Solicitudes");
  await expect(page.getByTestId("profile-name")).toHaveText("Lucía Cliente");
  await expect(page.getByTestId("profile-role")).toHaveText("Cliente");
  await expect(page.getByTestId("profile-organization")).toHaveText("Asociación Astronómica Orión");
  // The observatory's colour reaches the page as a CSS variable.
  const primary = await page.evaluate(() =>
    getComputedStyle(document.documentElement).getPropertyValue("--brand-primary").trim(),
  );
  expect(primary).toBe("#1f4e8c");

  await page.getByRole("button", { name: "English" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Requests");
  await expect(page.getByTestId("profile-role")).toHaveText("Client");
  await expect(page.getByRole("button", { name: "English" })).toHaveAttribute("aria-pressed", "true");

  await hydrated(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
  await expect(page.getByRole("status")).toContainText("You have signed out.");
  // The language choice outlives the session: it was saved on the account and the device.
  await expect(page.locator("html")).toHaveAttribute("lang", "en");

  // Going back to the home page now asks to sign in again.
  await page.goto(`${baseUrl()}/`);
  await expect(page).toHaveURL(`${baseUrl()}/sign-in`);

  // Signing in again keeps English (the account's setting), until switched back.
  await signIn(page, lucia);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Requests");
  await page.getByRole("button", { name: "Español" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Solicitudes");
});

test("the page hydrates: a click handled by wasm shows the password", async ({ page }) => {
  await page.goto(`${baseUrl()}/sign-in`);
  await hydrated(page);
  const password = page.locator("#password");
  await password.fill("secreto");
  await expect(password).toHaveAttribute("type", "password");
  const toggle = page.getByRole("button", { name: "Mostrar la contraseña" });
  await toggle.click();
  await expect(password).toHaveAttribute("type", "text");
  await expect(page.getByRole("button", { name: "Ocultar la contraseña" })).toHaveAttribute("aria-pressed", "true");
  await expect(password).toHaveValue("secreto");
});

test("a wrong password is refused with a translated message and keeps the e-mail", async ({ page }) => {
  const lucia = account("client", 0);
  await page.goto(`${baseUrl()}/sign-in`);
  await hydrated(page);
  await page.getByLabel("Correo electrónico").fill(lucia.email);
  await page.getByLabel("Contraseña", { exact: true }).fill("no es la contraseña");
  await page.getByRole("button", { name: "Iniciar sesión" }).click();
  await expect(page.getByRole("alert")).toHaveText("El correo electrónico o la contraseña no son correctos.");
  await expect(page.getByLabel("Correo electrónico")).toHaveValue(lucia.email);
  await expect(page).toHaveURL(`${baseUrl()}/sign-in`);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("sign-in works and errors keep what was typed", async ({ page }) => {
    const pablo = account("client", 1);
    await page.goto(`${baseUrl()}/sign-in`);
    await page.getByLabel("Correo electrónico").fill(pablo.email);
    await page.getByLabel("Contraseña", { exact: true }).fill("equivocada");
    await page.getByRole("button", { name: "Iniciar sesión" }).click();
    await expect(page.getByRole("alert")).toHaveText("El correo electrónico o la contraseña no son correctos.");
    await expect(page.getByLabel("Correo electrónico")).toHaveValue(pablo.email);
    // The typed address comes back from a draft on the server, never in the address bar.
    await expect(page).toHaveURL(`${baseUrl()}/sign-in?error=ErrorInvalidCredentials`);

    await page.getByLabel("Contraseña", { exact: true }).fill(pablo.password);
    await page.getByRole("button", { name: "Iniciar sesión" }).click();
    await expect(page).toHaveURL(`${baseUrl()}/`);
    await expect(page.getByTestId("profile-name")).toHaveText("Pablo Cliente");

    await page.getByRole("button", { name: "Cerrar sesión" }).click();
    await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
  });
});

test("the night theme is chosen in the header and remembered", async ({ page }) => {
  await page.goto(`${baseUrl()}/sign-in`);
  await page.getByRole("button", { name: "Noche" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "night");
  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "night");
  // Red on black: nothing bright for eyes adapted to the dark.
  const colours = await page.evaluate(() => {
    const body = getComputedStyle(document.body);
    return { background: body.backgroundColor, text: body.color };
  });
  expect(colours.background).toBe("rgb(0, 0, 0)");
  const [r, g, b] = colours.text.match(/\d+/g)!.map(Number);
  expect(r).toBeGreaterThan(200);
  expect(g).toBeLessThan(100);
  expect(b).toBeLessThan(100);
  await page.getByRole("button", { name: "Claro" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
});

test("the sign-in form can be used by keyboard alone", async ({ page }) => {
  const agent = account("agent");
  await page.goto(`${baseUrl()}/sign-in`);
  await hydrated(page);
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Saltar al contenido" })).toBeFocused();
  await page.getByLabel("Correo electrónico").focus();
  await page.keyboard.type(agent.email);
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Contraseña", { exact: true })).toBeFocused();
  await page.keyboard.type(agent.password);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(`${baseUrl()}/`);
  await expect(page.getByTestId("profile-role")).toHaveText("Personal técnico del observatorio");
});
