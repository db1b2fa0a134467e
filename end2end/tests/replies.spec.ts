import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, mailTo, relayMail, openRequest, signIn } from "./support";

test("a client answers a notification by e-mail; a stranger's mail waits for staff, who publish it as a note", async ({ page, browser }, info) => {
  const tag = String(Date.now()).slice(-7);
  const client = account("client", 0);
  await signIn(page, client);
  const number = await openRequest(page, "Reparación", `Enfocador ${tag}`, `El enfocador no responde. Referencia ${tag}.`);

  const staffContext = await browser.newContext({ locale: "es-ES", viewport: page.viewportSize() ?? undefined });
  const staff = await staffContext.newPage();
  await signIn(staff, account("agent"));
  await staff.goto(`${baseUrl()}/tickets/${number}`);
  await hydrated(staff);
  await staff.getByLabel("Mensaje").fill(`¿Qué versión de firmware tiene? (${tag})`);
  await staff.getByRole("button", { name: "Enviar", exact: true }).click();
  await expect(staff.getByTestId("timeline-entry").filter({ hasText: `firmware tiene? (${tag})` })).toBeVisible();

  // The client's mail says where to answer, and its Reply-To is the request's own address.
  const asked = await mailTo(client.email, (m) => m.subject.includes(number) && m.body.includes("firmware"));
  expect(asked.body.startsWith("## Responde encima de esta línea")).toBe(true);
  expect(asked.replyTo).toMatch(/\+\d+\.[0-9a-f]{24}@/);

  const quoted = asked.body
    .split("\r\n")
    .map((line) => `> ${line}`)
    .join("\n");
  const answer = `From: ${client.email}\nTo: ${asked.replyTo}\nSubject: Re: ${asked.subject}\nMessage-ID: <${tag}.respuesta@cliente.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nLa 2.3.1, actualizada ayer (${tag}).\n\nEl mié, 2 dic 2026, Observatorio escribió:\n${quoted}\n`;
  expect(await relayMail(client.email, asked.replyTo, answer)).toBe(250);
  const stranger = `From: desconocido@otra.example\nTo: ${asked.replyTo}\nSubject: Re: ${asked.subject}\nMessage-ID: <${tag}.extrano@otra.example>\n\nA mí me pasa lo mismo (${tag}).\n`;
  expect(await relayMail("desconocido@otra.example", asked.replyTo, stranger)).toBe(250);
  // An address the portal did not make is refused at the door.
  const forged = asked.replyTo.replace(/\.[0-9a-f]{24}@/, ".000000000000000000000000@");
  expect(await relayMail(client.email, forged, answer.replace(asked.replyTo, forged))).toBe(550);

  // Staff: the client's answer is a message of hers, without the quoted mail; the stranger's
  // waits in its own card.
  await staff.reload();
  await hydrated(staff);
  const reply = staff.getByTestId("timeline-entry").filter({ hasText: `La 2.3.1, actualizada ayer (${tag}).` });
  await expect(reply).toBeVisible();
  await expect(reply).not.toContainText("Responde encima");
  const held = staff.getByTestId("held-mail");
  await expect(held).toContainText("desconocido@otra.example");
  await expect(held).toContainText(`A mí me pasa lo mismo (${tag}).`);
  await held.scrollIntoViewIfNeeded();
  await staff.screenshot({ path: `../docs/screenshots/ticket-held-mail-${info.project.name}.png`, fullPage: true });
  await held.getByRole("button", { name: "Publicar como nota interna" }).click();
  await expect(staff.getByTestId("held-mail")).toHaveCount(0);
  const note = staff.getByTestId("timeline-entry").filter({ hasText: `A mí me pasa lo mismo (${tag}).` });
  await expect(note).toContainText("desconocido@otra.example");
  await staffContext.close();

  // The client sees her answer, and neither the held mail nor the note made of it.
  await page.goto(`${baseUrl()}/tickets/${number}`);
  await hydrated(page);
  await expect(page.getByTestId("timeline-entry").filter({ hasText: `La 2.3.1, actualizada ayer (${tag}).` })).toBeVisible();
  await expect(page.getByText(`A mí me pasa lo mismo (${tag}).`)).toHaveCount(0);
  await expect(page.getByTestId("held-mail")).toHaveCount(0);
});
