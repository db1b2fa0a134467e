import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

test("a client opens a request, finds it by a word typed without its accent, and sees staff block it with a reason", async ({ page, browser }, info) => {
  const tag = String(Date.now()).slice(-7);
  await signIn(page, account("client", 0));
  await page.getByRole("main").getByRole("link", { name: "Nueva solicitud" }).click();
  await expect(page).toHaveURL(`${baseUrl()}/tickets/new`);
  await hydrated(page);

  await page.getByLabel("Reparación").check();
  await page.getByLabel("Telescopio").selectOption({ label: "Orión 1" });
  await page.getByLabel("Alta (10)").check();
  await page.getByLabel("Asunto").fill(`Anemómetro parado ${tag}`);
  // Without a comment the request is refused with a translated message, and nothing is lost.
  await page.getByRole("button", { name: "Enviar la solicitud" }).click();
  await expect(page.getByRole("alert")).toHaveText("Describe en el comentario qué necesitas.");
  await expect(page.getByLabel("Asunto")).toHaveValue(`Anemómetro parado ${tag}`);
  await expect(page.getByLabel("Alta (10)")).toBeChecked();

  await page.getByLabel("Comentario").fill(`El anemómetro de la cúpula marca cero desde anoche. Referencia ${tag}.`);
  await page.screenshot({ path: `../docs/screenshots/new-request-${info.project.name}.png`, fullPage: true });
  await page.getByRole("button", { name: "Enviar la solicitud" }).click();
  await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
  const number = (await page.getByTestId("ticket-number").textContent())!.trim();
  await expect(page.getByTestId("ticket-created")).toHaveText(`Hemos recibido tu solicitud ${number}.`);
  await expect(page.getByTestId("ticket-status")).toHaveText("Abierta");

  // Found from the list by a word of its message written without the accent.
  await page.goto(`${baseUrl()}/`);
  await hydrated(page);
  await page.getByRole("searchbox", { name: "Buscar en las solicitudes" }).fill(`anemometro ${tag}`);
  await page.getByRole("button", { name: "Buscar", exact: true }).click();
  const hit = page.getByTestId("ticket-item");
  await expect(hit).toHaveCount(1);
  await expect(hit).toContainText(number);
  await expect(hit.locator("mark").first()).toHaveText("Anemómetro");
  await page.screenshot({ path: `../docs/screenshots/search-${info.project.name}.png`, fullPage: true });

  // Staff block it; a reason is required and reaches the client.
  const staffContext = await browser.newContext({ locale: "es-ES" });
  const staff = await staffContext.newPage();
  await signIn(staff, account("agent"));
  await staff.goto(`${baseUrl()}/tickets/${number}`);
  await hydrated(staff);
  await staff.getByLabel("Estado nuevo").selectOption({ label: "Bloqueada" });
  await staff.getByRole("button", { name: "Cambiar el estado" }).click();
  await expect(staff.getByRole("alert")).toHaveText("Indica por qué queda bloqueada (por ejemplo, a la espera del cliente).");
  await staff.getByLabel("Motivo").fill("Necesitamos acceso a la cúpula el jueves.");
  await staff.getByRole("button", { name: "Cambiar el estado" }).click();
  await expect(staff.getByTestId("ticket-status")).toHaveText("Bloqueada");
  await staff.getByRole("button", { name: "Me la quedo" }).click();
  await expect(staff.getByTestId("ticket-assignee")).toHaveText("Tomás Técnico");
  await staff.getByLabel("Mensaje").fill("Solo para el equipo: revisar el cableado.");
  await staff.getByLabel("Nota interna: solo la ve el personal del observatorio").check();
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: "revisar el cableado" })).toContainText("Interna");
  await staff.screenshot({ path: `../docs/screenshots/ticket-staff-${info.project.name}.png`, fullPage: true });
  await staffContext.close();

  await page.goto(`${baseUrl()}/tickets/${number}`);
  await hydrated(page);
  await expect(page.getByTestId("ticket-status")).toHaveText("Bloqueada");
  const change = page.getByTestId("timeline-entry").filter({ hasText: "Tomás Técnico cambió el estado" });
  await expect(change).toContainText("«Abierta» a «Bloqueada»");
  await expect(change).toContainText("Necesitamos acceso a la cúpula el jueves.");
  await expect(page.getByText("revisar el cableado")).toHaveCount(0);
  await expect(page.getByTestId("ticket-assignee")).toHaveText("Tomás Técnico");
  await page.screenshot({ path: `../docs/screenshots/ticket-client-${info.project.name}.png`, fullPage: true });

  // The client writes back, and can withdraw the request.
  await page.getByLabel("Mensaje").fill("El jueves por la mañana os abrimos.");
  await page.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(page.getByTestId("timeline-entry").last()).toContainText("El jueves por la mañana os abrimos.");
  await expect(page.getByLabel("Mensaje")).toHaveValue("");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("a request can be opened and answered before the page's code loads", async ({ page }) => {
    const pablo = account("client", 1);
    await page.goto(`${baseUrl()}/sign-in`);
    await page.getByLabel("Correo electrónico").fill(pablo.email);
    await page.getByLabel("Contraseña", { exact: true }).fill(pablo.password);
    await page.getByRole("button", { name: "Iniciar sesión" }).click();
    await expect(page).toHaveURL(`${baseUrl()}/`);
    await page.goto(`${baseUrl()}/tickets/new`);
    await page.getByLabel("Consulta").check();
    await page.getByLabel("Comentario").fill("¿Cuándo es la próxima ventana de mantenimiento?");
    await page.getByRole("button", { name: "Enviar la solicitud" }).click();
    await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("¿Cuándo es la próxima ventana de mantenimiento?");
    await page.getByLabel("Mensaje").fill("Es para planificar observaciones.");
    await page.getByRole("button", { name: "Enviar", exact: true }).click();
    await expect(page.getByTestId("timeline-entry").last()).toContainText("Es para planificar observaciones.");
    // Cancelling takes a second, deliberate step.
    await page.getByText("Cancelar la solicitud", { exact: true }).click();
    await page.getByLabel("Motivo").fill("Ya lo hemos resuelto.");
    await page.getByRole("button", { name: "Sí, cancelar la solicitud" }).click();
    await expect(page.getByTestId("ticket-status")).toHaveText("Cancelada");
    await expect(page.getByTestId("timeline-entry").last()).toContainText("Ya lo hemos resuelto.");
  });
});
