import { expect, test, type Browser } from "@playwright/test";
import { account, baseUrl, hydrated, openRequest, signIn } from "./support";

/** The agent, in a browser of their own, on the request's page. */
async function agentOn(browser: Browser, number: string) {
  const staffContext = await browser.newContext({ locale: "es-ES", viewport: { width: 1280, height: 900 } });
  const staff = await staffContext.newPage();
  await signIn(staff, account("agent"));
  await staff.goto(`${baseUrl()}/tickets/${number}`);
  await hydrated(staff);
  return { staffContext, staff };
}

test("a client and an agent on one request: replies, status and list changes arrive without reloading, and offline catches up once", async ({ page, browser }) => {
  const tag = String(Date.now()).slice(-7);
  const client = account("client", 0);
  await signIn(page, client);
  const number = await openRequest(page, "Consulta", `Guiado ${tag}`, `El guiado se pierde a los diez minutos (${tag}).`);
  await hydrated(page);
  // A reload would lose this mark, and the text being typed below.
  await page.evaluate(() => ((window as unknown as { liveMark: string }).liveMark = "same page"));
  const draft = `Le paso el registro en cuanto`;
  await page.getByLabel("Mensaje").fill(draft);

  // The client's list, open in a second tab.
  const list = await page.context().newPage();
  await list.goto(`${baseUrl()}/`);
  await hydrated(list);
  const listed = list.getByTestId("ticket-item").filter({ hasText: number });
  await expect(listed).toContainText("Abierta");

  const { staffContext, staff } = await agentOn(browser, number);

  // The agent's reply reaches the client's open page.
  const question = `¿Qué montura usa? (${tag})`;
  await staff.getByLabel("Mensaje").fill(question);
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  const sentAt = Date.now();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: question })).toBeVisible();
  await expect(page.getByTestId("timeline-entry").filter({ hasText: question })).toBeVisible({ timeout: 2_000 });
  console.log(`live: the agent's reply reached the client's page ${Date.now() - sentAt} ms after sending`);
  await expect(page.getByTestId("timeline-entry").filter({ hasText: question })).toHaveCount(1);
  await expect(page.getByLabel("Mensaje")).toHaveValue(draft);
  expect(await page.evaluate(() => (window as unknown as { liveMark?: string }).liveMark)).toBe("same page");

  // An internal note never reaches the client's page; the public message after it does.
  const note = `Nota interna sobre la montura (${tag})`;
  await staff.getByLabel("Mensaje").fill(note);
  await staff.getByLabel(/^Nota interna/).check();
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: note })).toBeVisible();

  // A status change updates the client's page header, and the list offers it.
  await staff.getByLabel("Estado nuevo").selectOption({ label: "En progreso" });
  await staff.getByRole("button", { name: "Cambiar el estado" }).click();
  await expect(page.getByTestId("ticket-status")).toContainText("En progreso");
  await expect(page.getByTestId("timeline-entry").filter({ hasText: note })).toHaveCount(0);
  const changes = list.getByTestId("list-changes");
  await expect(changes).toContainText("Solicitudes con cambios desde que abriste la lista: 1.");
  await expect(listed).toContainText("Abierta");
  await changes.click();
  await expect(listed).toContainText("En progreso");
  await expect(list.getByTestId("list-changes")).toHaveCount(0);

  // Offline (a phone in a tunnel): what was said meanwhile arrives once the network is back.
  await page.context().setOffline(true);
  const meanwhile = `Mientras estaba sin cobertura (${tag})`;
  await staff.getByLabel("Mensaje").fill(meanwhile);
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: meanwhile })).toBeVisible();
  await page.waitForTimeout(1_500);
  await expect(page.getByTestId("timeline-entry").filter({ hasText: meanwhile })).toHaveCount(0);
  await page.context().setOffline(false);
  await expect(page.getByTestId("timeline-entry").filter({ hasText: meanwhile })).toBeVisible({ timeout: 10_000 });
  await expect(page.getByTestId("timeline-entry").filter({ hasText: meanwhile })).toHaveCount(1);
  await expect(page.getByTestId("timeline-entry").filter({ hasText: question })).toHaveCount(1);
  await expect(page.getByLabel("Mensaje")).toHaveValue(draft);
  await expect(page.getByTestId("timeline-entry").filter({ hasText: note })).toHaveCount(0);
  await staffContext.close();
});

test("presence and collision: staff see who is on the request and who writes, the client only that the observatory replies, and a reply that arrived while writing is shown before sending", async ({ page, browser }, info) => {
  const tag = String(Date.now()).slice(-7);
  await signIn(page, account("client", 0));
  const number = await openRequest(page, "Consulta", `Presencia ${tag}`, `La montura hace ruido al apuntar (${tag}).`);
  await hydrated(page);

  const { staffContext, staff } = await agentOn(browser, number);

  // Staff see the client on the page.
  await expect(staff.getByTestId("presence")).toContainText(/También en esta página: .*Cliente/, { timeout: 10_000 });

  // The agent writes a public reply: the client is told the observatory is replying, not who.
  await staff.getByLabel("Mensaje").fill("Estamos mirando");
  const writing = page.getByTestId("presence-writing");
  await expect(writing).toHaveText("El observatorio está respondiendo…", { timeout: 8_000 });
  // The same text as an internal note: the client is told nothing at all.
  await staff.getByLabel(/^Nota interna/).check();
  await expect(writing).toHaveText("", { timeout: 8_000 });
  await expect(page.getByTestId("presence")).not.toContainText("Tomás");

  // The client writes: the agent sees it by name.
  const mine = `La montura ya no hace ruido (${tag})`;
  await page.getByLabel("Mensaje").fill(mine);
  await expect(staff.getByTestId("presence-writing")).toHaveText(/Cliente está escribiendo una respuesta…/, { timeout: 8_000 });

  // Meanwhile the agent replies; the client, sending, is first shown that reply.
  const theirs = `¿Ha probado a engrasar el eje? (${tag})`;
  await staff.getByLabel(/^Nota interna/).uncheck();
  await staff.getByLabel("Mensaje").fill(theirs);
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: theirs })).toBeVisible();
  await page.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(page.getByText("Mientras escribías, alguien ha respondido")).toBeVisible();
  await expect(page.getByTestId("replies-meanwhile")).toContainText(theirs);
  await expect(page.getByLabel("Mensaje")).toHaveValue(mine);
  await expect(page.getByTestId("timeline-entry").filter({ hasText: mine })).toHaveCount(0);
  await page.screenshot({ path: `../docs/screenshots/replied-meanwhile-${info.project.name}.png`, fullPage: true });
  // Having read it, the client sends anyway: the message is posted once.
  await page.getByRole("button", { name: "Enviar de todos modos" }).click();
  await expect(page.getByTestId("timeline-entry").filter({ hasText: mine })).toHaveCount(1);
  await expect(page.getByTestId("replies-meanwhile")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Enviar", exact: true })).toBeVisible();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: mine })).toHaveCount(1, { timeout: 2_000 });
  await staffContext.close();
});

test("the bell: a reply to the client's request rings it; the list links to the entry and marks it read; all can be marked read", async ({ page, browser }, info) => {
  const tag = String(Date.now()).slice(-7);
  await signIn(page, account("client", 0));
  // Start from nothing unread (earlier tests told this client of their own requests).
  await page.goto(`${baseUrl()}/notifications`);
  await hydrated(page);
  const markAll = page.getByRole("button", { name: "Marcar todas como leídas" });
  if (await markAll.isVisible()) await markAll.click();
  await expect(page.getByTestId("bell-count")).toHaveCount(0);

  const number = await openRequest(page, "Consulta", `Campana ${tag}`, `El buscador no enfoca (${tag}).`);
  await hydrated(page);
  const { staffContext, staff } = await agentOn(browser, number);
  const reply = `Pruebe a recalibrar el buscador (${tag})`;
  await staff.getByLabel("Mensaje").fill(reply);
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: reply })).toBeVisible();

  // The client's bell rings without a reload.
  const bell = page.getByTestId("bell");
  await expect(page.getByTestId("bell-count")).toBeVisible({ timeout: 15_000 });
  await expect(bell).toHaveAttribute("aria-label", /Tus notificaciones: [1-9]\d* sin leer/);
  await bell.click();
  const item = page.getByTestId("bell-item").filter({ hasText: number }).filter({ hasText: reply });
  await expect(item).toContainText("Tomás Técnico escribió");
  await expect(item).toContainText("Sin leer");
  await page.screenshot({ path: `../docs/screenshots/notifications-${info.project.name}.png`, fullPage: true });

  // Its link opens the request at the entry, and marks it read.
  await hydrated(page);
  await item.getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/tickets/${number}#entry-\\d+$`));
  const entryId = new URL(page.url()).hash.slice(1);
  await expect(page.locator(`#${entryId}`)).toContainText(reply);
  await page.goto(`${baseUrl()}/notifications`);
  await expect(item).toContainText("Leída");
  await expect(item).not.toContainText("Sin leer");

  // A second reply rings it again; "mark all as read" silences it.
  const second = `¿Ha funcionado? (${tag})`;
  await staff.getByLabel("Mensaje").fill(second);
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: second })).toBeVisible();
  await hydrated(page);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("bell-item").filter({ hasText: second })).toContainText("Sin leer", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await hydrated(page);
  await page.getByRole("button", { name: "Marcar todas como leídas" }).click();
  await expect(page.getByTestId("bell-item").filter({ hasText: second })).toContainText("Leída");
  await expect(page.getByTestId("bell-count")).toHaveCount(0);
  await staffContext.close();
});
