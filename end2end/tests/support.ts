import { execFileSync } from "node:child_process";
import { connect } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect, type Page } from "@playwright/test";

export type Account = { role: "admin" | "agent" | "client"; email: string; password: string };

export function baseUrl(): string {
  const url = process.env.CUPULA_E2E_URL;
  if (!url) throw new Error("CUPULA_E2E_URL is not set: global-setup.ts did not run");
  return url;
}

export function demoAccounts(): Account[] {
  return JSON.parse(process.env.CUPULA_E2E_ACCOUNTS ?? "[]");
}

export function account(role: Account["role"], index = 0): Account {
  const found = demoAccounts().filter((a) => a.role === role)[index];
  if (!found) throw new Error(`no demo ${role} #${index}`);
  return found;
}

/** Waits until the page's wasm has taken over (App marks the body). */
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

export async function signIn(page: Page, who: Account) {
  await page.goto(`${baseUrl()}/sign-in`);
  await hydrated(page);
  await page.getByLabel(/Correo electrónico|E-mail/).fill(who.email);
  await page.getByLabel(/^(Contraseña|Password)$/).fill(who.password);
  await page.getByRole("button", { name: /^(Iniciar sesión|Sign in)$/ }).click();
  await expect(page).toHaveURL(`${baseUrl()}/`);
}

/** Opens a request through the form as the signed-in client; answers its number. */
export async function openRequest(page: Page, type: string, subject: string, comment: string): Promise<string> {
  await page.goto(`${baseUrl()}/tickets/new`);
  await hydrated(page);
  await page.getByLabel(type).check();
  await page.getByLabel("Asunto").fill(subject);
  await page.getByLabel("Comentario").fill(comment);
  await page.getByRole("button", { name: "Enviar la solicitud" }).click();
  await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
  return (await page.getByTestId("ticket-number").textContent())!.trim();
}

/** Runs an operator's command (`cupula …`) on the portal under test. */
function cupula(args: string[], input?: string): Buffer {
  return execFileSync(resolve(__dirname, "..", process.env.CUPULA_BIN ?? "../target/debug/cupula"), args, {
    env: JSON.parse(process.env.CUPULA_E2E_SERVER_ENV ?? "{}"),
    input,
  });
}

/** A new administrator of the tested portal, for tests that change what they sign in with. */
export function createAdmin(email: string, password: string): Account {
  cupula(["create-admin", "--email", email, "--name", "Administración de Pruebas"], `${password}\n`);
  return { role: "admin", email, password };
}

/** The messages the tests' mail server (mailbox.ts) received for `to`, in order. */
function delivered(to: string): { data: string }[] {
  const dir = process.env.CUPULA_E2E_MAILBOX;
  if (!dir) throw new Error("CUPULA_E2E_MAILBOX is not set: global-setup.ts did not run");
  return readdirSync(dir)
    .sort()
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as { to: string[]; data: string })
    .filter((message) => message.to.includes(to));
}

/** A header's value, its encoded words (RFC 2047, as mail programs write non-ASCII) decoded. */
function header(data: string, name: string): string {
  const head = data.split("\r\n\r\n")[0].replace(/\r\n[ \t]+/g, " ");
  const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)) ?? "";
  return line
    .slice(name.length + 1)
    .trim()
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, encoding: string, text: string) =>
      encoding.toLowerCase() === "b"
        ? Buffer.from(text, "base64").toString("utf8")
        : Buffer.from(
            text.replace(/_/g, " ").replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            "latin1",
          ).toString("utf8"),
    );
}

/** A message's text (the plain part of a multipart one), its transfer encoding undone. */
function bodyOf(data: string): string {
  const boundary = header(data, "Content-Type").match(/boundary="?([^";]+)"?/)?.[1];
  if (boundary) {
    const plain = data
      .split(`--${boundary}`)
      .find((part) => /content-type:\s*text\/plain/i.test(part.split("\r\n\r\n")[0]));
    return plain ? bodyOf(plain.replace(/^\r\n/, "")) : "";
  }
  const body = data.slice(data.indexOf("\r\n\r\n") + 4);
  switch (header(data, "Content-Transfer-Encoding").toLowerCase()) {
    case "base64":
      return Buffer.from(body.replace(/\r\n/g, ""), "base64").toString("utf8");
    case "quoted-printable":
      return Buffer.from(
        body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        "latin1",
      ).toString("utf8");
    default:
      return body;
  }
}

/**
 * The newest e-mail the portal sent to `to`, as the tests' mail server received it (its link
 * whole, as the recipient gets it): waits until every mail the portal queued for `to`
 * (`cupula outbox`) has arrived, so an older one is never taken for it.
 */
export async function newestMail(to: string): Promise<{ subject: string; body: string }> {
  let messages: { data: string }[] = [];
  await expect
    .poll(
      () => {
        const queued = JSON.parse(cupula(["outbox", "--to", to, "--limit", "100"]).toString()).length;
        messages = delivered(to);
        return queued > 0 && messages.length >= queued;
      },
      { timeout: 20_000, message: `the e-mails to ${to} arrive` },
    )
    .toBe(true);
  const data = messages[messages.length - 1].data;
  return { subject: header(data, "Subject"), body: bodyOf(data) };
}

/** The first e-mail to `to` whose subject and text satisfy `matches`, waiting for it to arrive. */
export async function mailTo(
  to: string,
  matches: (mail: { subject: string; body: string }) => boolean,
): Promise<{ subject: string; body: string; replyTo: string }> {
  let found: { subject: string; body: string; replyTo: string } | undefined;
  await expect
    .poll(
      () => {
        found = delivered(to)
          .map((m) => ({
            subject: header(m.data, "Subject"),
            body: bodyOf(m.data),
            replyTo: header(m.data, "Reply-To").replace(/^.*<([^>]+)>.*$/, "$1"),
          }))
          .find(matches);
        return found !== undefined;
      },
      { timeout: 20_000, message: `an e-mail to ${to} arrives` },
    )
    .toBe(true);
  return found!;
}

/**
 * Sends `message` (headers, blank line, body; `\n` line ends) from `from` to `to` through the
 * portal's reply listener, as the observatory's mail server relays a reply: a whole SMTP
 * conversation. Resolves with the final answer's code (250 when taken).
 */
export function relayMail(from: string, to: string, message: string): Promise<number> {
  const port = Number(process.env.CUPULA_E2E_INBOUND_PORT);
  if (!port) throw new Error("CUPULA_E2E_INBOUND_PORT is not set: global-setup.ts did not run");
  const data = message.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
  const steps = [`EHLO mail.test`, `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, "DATA", `${data}\r\n.`, "QUIT"];
  return new Promise((resolvePromise, reject) => {
    const socket = connect(port, "127.0.0.1");
    let buffer = "";
    let step = -1;
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      // A whole answer: its last line has a space after the code.
      const lines = buffer.split("\r\n").filter((l) => l.length > 0);
      const last = lines[lines.length - 1];
      if (!buffer.endsWith("\r\n") || !last || last[3] !== " ") return;
      buffer = "";
      const code = Number(last.slice(0, 3));
      if (code >= 400 || step === steps.length - 2) {
        socket.end();
        resolvePromise(code);
        return;
      }
      step += 1;
      socket.write(`${steps[step]}\r\n`);
    });
    socket.on("error", reject);
  });
}
