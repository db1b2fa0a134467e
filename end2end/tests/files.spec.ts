import { expect, test } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

// A 1×1 PNG and a minimal PDF, made here so the test needs no fixture files.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
const PDF = Buffer.from("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");

test("a client attaches two files to a reply, and a refused file keeps the typed text", async ({ page }) => {
  const tag = String(Date.now()).slice(-7);
  await signIn(page, account("client", 0));
  await page.goto(`${baseUrl()}/tickets/new`);
  await hydrated(page);
  await page.getByLabel("Consulta").check();
  await page.getByLabel("Comentario").fill(`Adjuntos de prueba ${tag}`);
  await page.getByRole("button", { name: "Enviar la solicitud" }).click();
  await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
  await hydrated(page);

  // Two files through the picker: each gets its own row, which reaches "done".
  await page.getByTestId("file-input").setInputFiles([
    { name: "montura.png", mimeType: "image/png", buffer: PNG },
    { name: "registro.pdf", mimeType: "application/pdf", buffer: PDF },
  ]);
  const rows = page.getByTestId("upload-item");
  await expect(rows).toHaveCount(2);
  for (const row of [rows.nth(0), rows.nth(1)]) {
    await expect(row).toHaveAttribute("data-state", "done");
    await expect(row.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  }
  await expect(rows.nth(0)).toContainText("montura.png");
  await page.getByLabel("Mensaje").fill(`La foto y el registro ${tag}`);
  await page.getByRole("button", { name: "Enviar", exact: true }).click();

  // One entry: the text with both files listed under it.
  const entry = page.getByTestId("timeline-entry").filter({ hasText: `La foto y el registro ${tag}` });
  await expect(entry).toHaveCount(1);
  // Listed in the order they finished uploading, which two parallel uploads do not fix.
  const links = entry.getByTestId("attachment-link");
  await expect(links).toHaveCount(2);
  expect((await links.allTextContents()).sort()).toEqual(["montura.png", "registro.pdf"]);
  await expect(page.getByTestId("upload-item")).toHaveCount(0);

  // An HTML page named .jpg is refused with the server's message; the typed text stays.
  await page.getByLabel("Mensaje").fill(`Texto que no se pierde ${tag}`);
  await page.getByTestId("file-input").setInputFiles({
    name: "foto.jpg",
    mimeType: "image/jpeg",
    buffer: Buffer.from("<!doctype html><html><body><script>alert(1)</script></body></html>\n"),
  });
  const refused = page.getByTestId("upload-item");
  await expect(refused).toHaveAttribute("data-state", "refused");
  await expect(refused.getByRole("alert")).toContainText("Ese tipo de archivo no se admite");
  await expect(page.getByLabel("Mensaje")).toHaveValue(`Texto que no se pierde ${tag}`);
  await expect(page.getByRole("button", { name: "Enviar", exact: true })).toBeEnabled();
});

test("an upload cut by a reload resumes where the server stands when the file is added again", async ({ page }) => {
  const tag = String(Date.now()).slice(-7);
  await signIn(page, account("client", 0));
  await page.goto(`${baseUrl()}/tickets/new`);
  await hydrated(page);
  await page.getByLabel("Consulta").check();
  await page.getByLabel("Comentario").fill(`Subida interrumpida ${tag}`);
  await page.getByRole("button", { name: "Enviar la solicitud" }).click();
  await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
  await hydrated(page);

  // Across both page loads: the uploads created, and where each chunk began.
  const creations: string[] = [];
  const chunkOffsets: number[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/api/v1/uploads" && request.method() === "POST") {
      creations.push(request.url());
    } else if (request.method() === "PATCH") {
      chunkOffsets.push(Number(request.headers()["upload-offset"]));
    }
  });
  // Leaving with an upload running asks first: the person says yes.
  page.on("dialog", (dialog) => dialog.accept());
  // Chunks held back a little, so the reload lands mid-upload and the resumed row can be read.
  await page.route("**/api/v1/uploads/**", async (route) => {
    if (route.request().method() === "PATCH") await new Promise((done) => setTimeout(done, 1_500));
    // The reload aborts the chunk held then.
    await route.continue().catch(() => {});
  });

  // 12 MB: three chunks of 4 MiB. Playwright gives the file a new lastModified on each call.
  const file = { name: "guiado.log", mimeType: "text/plain", buffer: Buffer.alloc(12_000_000, "registro de guiado\n") };
  const firstChunk = page.waitForResponse((r) => r.request().method() === "PATCH" && r.status() === 204);
  await page.getByTestId("file-input").setInputFiles(file);
  await firstChunk;
  const progress = Number(await page.getByTestId("upload-item").getByRole("progressbar").getAttribute("aria-valuenow"));
  expect(progress).toBeGreaterThan(0);
  expect(progress).toBeLessThan(100);
  const records = () =>
    page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("cupula.upload:")));
  expect(await records()).toHaveLength(1);

  await page.reload();
  await hydrated(page);
  const chunksBefore = chunkOffsets.length;
  await page.getByTestId("file-input").setInputFiles(file);
  const row = page.getByTestId("upload-item");
  await expect(row).toHaveCount(1);
  // 4 MiB of 12 MB.
  await expect(row).toContainText("Continuando desde 34 %");
  await expect(row).toHaveAttribute("data-state", "done", { timeout: 30_000 });
  await expect(row.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  // One upload, resumed after the first chunk rather than sent again from the start.
  expect(creations).toHaveLength(1);
  expect(chunkOffsets.slice(chunksBefore)).toEqual([4 * 1024 * 1024, 8 * 1024 * 1024]);
  expect(await records()).toEqual([]);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the new-request form and the reply box post their files themselves", async ({ page }) => {
    const tag = String(Date.now()).slice(-7);
    const pablo = account("client", 1);
    await page.goto(`${baseUrl()}/sign-in`);
    await page.getByLabel("Correo electrónico").fill(pablo.email);
    await page.getByLabel("Contraseña", { exact: true }).fill(pablo.password);
    await page.getByRole("button", { name: "Iniciar sesión" }).click();
    await expect(page).toHaveURL(`${baseUrl()}/`);

    await page.goto(`${baseUrl()}/tickets/new`);
    await page.getByLabel("Consulta").check();
    await page.getByLabel("Comentario").fill(`Sin guion todavía ${tag}`);
    // The browser's own file field, visible and named, before the page's code runs.
    const picker = page.getByTestId("file-input");
    await expect(picker).toBeVisible();
    await picker.setInputFiles({ name: "montura.png", mimeType: "image/png", buffer: PNG });
    await page.getByRole("button", { name: "Enviar la solicitud" }).click();
    await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
    await expect(page.getByTestId("attachment-link").filter({ hasText: "montura.png" })).toHaveCount(1);

    // A reply with a refused file comes back with the reason and the typed text.
    await page.getByLabel("Mensaje").fill(`Texto que se queda ${tag}`);
    await page.getByTestId("file-input").setInputFiles({
      name: "foto.jpg",
      mimeType: "image/jpeg",
      buffer: Buffer.from("<!doctype html><html><body>no</body></html>\n"),
    });
    await page.getByRole("button", { name: "Enviar", exact: true }).click();
    await expect(page.getByRole("alert")).toContainText("Ese tipo de archivo no se admite");
    await expect(page.getByLabel("Mensaje")).toHaveValue(`Texto que se queda ${tag}`);

    // The same reply with a good file is sent, with the file under it.
    await page.getByTestId("file-input").setInputFiles({ name: "registro.pdf", mimeType: "application/pdf", buffer: PDF });
    await page.getByRole("button", { name: "Enviar", exact: true }).click();
    const entry = page.getByTestId("timeline-entry").filter({ hasText: `Texto que se queda ${tag}` });
    await expect(entry).toHaveCount(1);
    await expect(entry.getByTestId("attachment-link")).toHaveText(["registro.pdf"]);
  });
});
