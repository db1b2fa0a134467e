import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, mailTo, openRequest, signIn } from "./support";

test("staff change a status and the client's e-mail, in Spanish, leads to the request", async ({ page, browser }) => {
  const tag = String(Date.now()).slice(-7);
  const client = account("client", 0);
  await signIn(page, client);
  const number = await openRequest(page, "Consulta", `Horario de la visita ${tag}`, `¿Podemos ir el sábado por la noche? Referencia ${tag}.`);

  // The acknowledgement: the number in the subject, in the client's language.
  const ack = await mailTo(client.email, (m) => m.subject.includes(number));
  expect(ack.subject).toBe(`[${number}] Horario de la visita ${tag}`);
  expect(ack.body).toContain(`Hemos recibido tu solicitud ${number}.`);

  const staffContext = await browser.newContext({ locale: "es-ES" });
  const staff = await staffContext.newPage();
  await signIn(staff, account("agent"));
  await staff.goto(`${baseUrl()}/tickets/${number}`);
  await hydrated(staff);
  await staff.getByLabel("Mensaje").fill(`Nota del equipo ${tag}: confirmar con el turno de noche.`);
  await staff.getByLabel("Nota interna: solo la ve el personal del observatorio").check();
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: `Nota del equipo ${tag}` })).toBeVisible();
  await staff.getByLabel("Estado nuevo").selectOption({ label: "En progreso" });
  await staff.getByRole("button", { name: "Cambiar el estado" }).click();
  await expect(staff.getByTestId("ticket-status")).toHaveText("En progreso");
  await staffContext.close();

  const change = await mailTo(client.email, (m) => m.subject.includes(number) && m.body.includes("«En progreso»"));
  expect(change.body).toContain(`La solicitud ${number} ha pasado de «Abierta» a «En progreso».`);
  expect(change.body).not.toContain(`Nota del equipo ${tag}`);
  const link = new URL(change.body.match(/https?:\/\/\S+\/tickets\/OBS-\d{4}-\d{5}#entry-\d+/)![0]);

  // The link opens the request at the change it tells of.
  await page.goto(`${baseUrl()}${link.pathname}${link.hash}`);
  await hydrated(page);
  await expect(page.getByTestId("ticket-number")).toHaveText(number);
  await expect(page.getByTestId("ticket-status")).toHaveText("En progreso");
  await expect(page.locator(link.hash)).toContainText("«Abierta» a «En progreso»");
  await expect(page.getByText(`Nota del equipo ${tag}`)).toHaveCount(0);
});

test("a person chooses in My account which optional e-mails they receive", async ({ page }) => {
  await signIn(page, account("agent"));
  await page.goto(`${baseUrl()}/account#notifications`);
  await hydrated(page);
  const choices = page.getByRole("region", { name: "Qué correos recibo" });
  const assigned = choices.getByLabel("Asignación: a la persona asignada");
  await expect(assigned).toBeChecked();
  await assigned.uncheck();
  await choices.getByRole("button", { name: "Guardar los cambios" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Cambios guardados" })).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(choices.getByLabel("Asignación: a la persona asignada")).not.toBeChecked();
  await choices.getByLabel("Asignación: a la persona asignada").check();
  await choices.getByRole("button", { name: "Guardar los cambios" }).click();
  await page.reload();
  await hydrated(page);
  await expect(choices.getByLabel("Asignación: a la persona asignada")).toBeChecked();
});

test("staff mark a request done; from the e-mail the client accepts the resolution and it shows closed", async ({ page, browser }, info) => {
  const tag = String(Date.now()).slice(-7);
  const client = account("client", 0);
  await signIn(page, client);
  const number = await openRequest(page, "Reparación", `Rueda de filtros ${tag}`, `La rueda de filtros se atasca. Referencia ${tag}.`);

  const staffContext = await browser.newContext({ locale: "es-ES" });
  const staff = await staffContext.newPage();
  await signIn(staff, account("agent"));
  await staff.goto(`${baseUrl()}/tickets/${number}`);
  await hydrated(staff);
  await staff.getByLabel("Estado nuevo").selectOption({ label: "Finalizada" });
  await staff.getByLabel("Motivo").fill("Engrasada y calibrada.");
  await staff.getByRole("button", { name: "Cambiar el estado" }).click();
  await expect(staff.getByTestId("ticket-status")).toHaveText("Finalizada");
  await expect(staff.getByTestId("ticket-resolution")).toHaveText("Pendiente de confirmar");
  await staffContext.close();

  const done = await mailTo(client.email, (m) => m.subject.includes(number) && m.body.includes("«Finalizada»"));
  expect(done.body).toContain("acepta la solución desde el portal");
  expect(done.body).toContain("> Engrasada y calibrada.");
  const link = new URL(done.body.match(/https?:\/\/\S+\/tickets\/OBS-\d{4}-\d{5}#entry-\d+/)![0]);

  await page.goto(`${baseUrl()}${link.pathname}${link.hash}`);
  await hydrated(page);
  await expect(page.getByTestId("ticket-resolution")).toHaveText("Pendiente de confirmar");
  const question = page.getByRole("region", { name: "¿Está resuelto?" });
  await expect(question).toBeVisible();
  await page.screenshot({ path: `../docs/screenshots/ticket-accept-${info.project.name}.png`, fullPage: true });
  await question.getByRole("button", { name: "Aceptar la solución" }).click();
  await expect(page.getByTestId("ticket-resolution")).toHaveText("Cerrada: solución aceptada");
  await expect(page.getByRole("region", { name: "¿Está resuelto?" })).toHaveCount(0);
  await expect(page.getByTestId("timeline-entry").last()).toContainText("aceptó la solución");

  // The list tells a closed request from one awaiting confirmation.
  await page.goto(`${baseUrl()}/`);
  await hydrated(page);
  await expect(page.getByTestId("ticket-item").filter({ hasText: number })).toContainText("Cerrada: solución aceptada");
});
