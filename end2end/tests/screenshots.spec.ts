// Pictures of the sign-in page and the home page at phone and desktop widths in every theme,
// for docs/screenshots/ (and for people to look at what they build).
import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

const themes = ["light", "dark", "night"] as const;
const widths = [
  { name: "phone", width: 390, height: 844 },
  { name: "desktop", width: 1280, height: 800 },
] as const;

test("@desktop-only screenshots of sign-in and home in every theme", async ({ browser }) => {
  for (const theme of themes) {
    for (const size of widths) {
      const context = await browser.newContext({
        viewport: { width: size.width, height: size.height },
        locale: "es-ES",
      });
      const host = new URL(baseUrl()).hostname;
      await context.addCookies([{ name: "cupula_theme", value: theme, domain: host, path: "/" }]);
      const page = await context.newPage();

      await page.goto(`${baseUrl()}/sign-in`);
      await hydrated(page);
      await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
      await page.screenshot({ path: `../docs/screenshots/sign-in-${size.name}-${theme}.png`, fullPage: true });

      await signIn(page, account("client", 0));
      await hydrated(page);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      // Nothing sticks out sideways on a phone.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: `../docs/screenshots/home-${size.name}-${theme}.png`, fullPage: true });
      await context.close();
    }
  }
});

test("@desktop-only screenshots of the administration and account pages", async ({ browser }) => {
  for (const size of widths) {
    const context = await browser.newContext({
      viewport: { width: size.width, height: size.height },
      locale: "es-ES",
    });
    const page = await context.newPage();
    await signIn(page, account("admin"));
    for (const section of ["admin/clients", "admin/clients/1", "admin/people", "admin/branding", "admin/notifications", "admin/outbox", "account"]) {
      await page.goto(`${baseUrl()}/${section}`);
      await hydrated(page);
      await expect(page.locator("main h1")).toBeVisible();
      await expect(page.getByText("Cargando…")).toHaveCount(0);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      const name = section.replaceAll("/", "-");
      await page.screenshot({ path: `../docs/screenshots/${name}-${size.name}.png`, fullPage: true });
    }
    await context.close();
  }
});
