import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
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

/**
 * The newest e-mail the portal queued for `to`, read with the operator's `cupula outbox`; its link
 * whole (`--reveal`, with the secret key the portal created in its data directory), as the
 * recipient will get it.
 */
export function newestMail(to: string): { subject: string; body: string } {
  const output = cupula(["outbox", "--to", to, "--limit", "1", "--reveal"]);
  const mails = JSON.parse(output.toString());
  expect(mails.length).toBeGreaterThan(0);
  return mails[0];
}
