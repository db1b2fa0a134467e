import { createHash, randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test, type Page, type Request } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

// Uploading as it goes wrong at the telescope: a network that is slow and drops, a file too
// large or of a refused type, a phone's file chooser, and leaving the page too early.

const MiB = 1024 * 1024;
/** The largest file the tested portal accepts: global-setup.ts starts it with this limit. */
const MAX_FILE_BYTES = 64 * MiB;

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Opens a request as the first demo client and waits on its page, whose reply box takes files. */
async function openRequest(page: Page, comment: string) {
  await signIn(page, account("client", 0));
  await page.goto(`${baseUrl()}/tickets/new`);
  await hydrated(page);
  await page.getByLabel("Consulta").check();
  await page.getByLabel("Comentario").fill(comment);
  await page.getByRole("button", { name: "Enviar la solicitud" }).click();
  await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
  await hydrated(page);
}

/** The tus requests a page makes: all of them, uploads created, and where each chunk began. */
function watchUploads(page: Page) {
  const seen = { requests: 0, creations: 0, chunkOffsets: [] as number[] };
  page.on("request", (request: Request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/api/v1/uploads")) seen.requests += 1;
    if (path === "/api/v1/uploads" && request.method() === "POST") seen.creations += 1;
    if (path.startsWith("/api/v1/uploads/") && request.method() === "PATCH") {
      seen.chunkOffsets.push(Number(request.headers()["upload-offset"]));
    }
  });
  return seen;
}

const percentOf = async (row: ReturnType<Page["getByTestId"]>) =>
  Number(await row.getByRole("progressbar").getAttribute("aria-valuenow"));

test("an upload cut off on a slow network resumes from what the server has and arrives whole", async ({ page, context }) => {
  test.setTimeout(120_000);
  // The page's clock, so that a long outage can pass in a moment.
  await page.clock.install();
  const tag = String(Date.now()).slice(-7);
  await openRequest(page, `Registro de seguimiento ${tag}`);
  const seen = watchUploads(page);
  // What the server says it has, each time the page asks after the cut.
  const serverOffsets: number[] = [];
  page.on("response", (response) => {
    if (response.request().method() === "HEAD" && response.status() === 200) {
      serverOffsets.push(Number(response.headers()["upload-offset"]));
    }
  });

  // A mobile link: about 3 MB/s up, so each 4 MiB chunk takes more than a second.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const throttle = (on: boolean) =>
    cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: on ? 40 : 0,
      downloadThroughput: on ? 3 * MiB : -1,
      uploadThroughput: on ? 3 * MiB : -1,
    });
  await throttle(true);

  // 24 MiB of text that never repeats, so a chunk sent at the wrong place changes the sum.
  const log = Buffer.from(randomBytes(12 * MiB).toString("hex"));
  await page.getByLabel("Mensaje").fill(`El registro completo ${tag}`);
  await page.getByTestId("file-input").setInputFiles({ name: "seguimiento.log", mimeType: "text/plain", buffer: log });
  const row = page.getByTestId("upload-item");
  await expect(row).toHaveAttribute("data-state", "uploading");

  // Cut while the second chunk is on its way, once the server has stored the first. (Chromium's
  // throttle holds back the answer, not the bytes: the chunk in flight still arrives whole and
  // the cut fails the requests after it. A cut inside a chunk is for server/tests/files.rs.)
  await expect.poll(() => percentOf(row), { timeout: 30_000 }).toBeGreaterThanOrEqual(25);
  const storedBeforeCut = Math.max(...seen.chunkOffsets);
  expect(storedBeforeCut).toBeGreaterThanOrEqual(4 * MiB);
  // Chromium heeds one session's network conditions: the throttle gives way to the cut.
  await throttle(false);
  await context.setOffline(true);
  await expect(row).toHaveAttribute("data-state", "offline");
  await expect(row).toContainText("Sin conexión. La subida seguirá sola cuando vuelva la red.");
  // Ten minutes out of reach pass in a moment: the page neither gives up nor tries in vain.
  const requestsWhenCut = seen.requests;
  await page.clock.runFor(10 * 60_000);
  await expect(row).toHaveAttribute("data-state", "offline");
  expect(seen.requests).toBe(requestsWhenCut);
  const chunksBeforeCut = seen.chunkOffsets.length;
  await context.setOffline(false);
  await throttle(true);

  await expect(row).toHaveAttribute("data-state", "done", { timeout: 60_000 });
  await expect(row.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  // One upload, resumed where the server said it stood rather than sent again from byte 0.
  expect(seen.creations).toBe(1);
  const resumedAt = seen.chunkOffsets[chunksBeforeCut];
  expect(resumedAt).toBeGreaterThanOrEqual(storedBeforeCut);
  expect(serverOffsets).toContain(resumedAt);
  expect(seen.chunkOffsets.filter((offset) => offset === 0)).toHaveLength(1);

  // Sent with the reply, and what downloads is the very file.
  await page.getByRole("button", { name: "Enviar", exact: true }).click();
  const entry = page.getByTestId("timeline-entry").filter({ hasText: `El registro completo ${tag}` });
  const link = entry.getByTestId("attachment-link");
  await expect(link).toHaveText("seguimiento.log");
  const download = await page.request.get(new URL((await link.getAttribute("href"))!, baseUrl()).href);
  expect(download.status()).toBe(200);
  const body = await download.body();
  expect(body.length).toBe(log.length);
  expect(sha256(body)).toBe(sha256(log));
});

test("a file too large is refused before it is sent, one of a refused type once the server reads it, and the typed text stays", async ({ page }) => {
  const tag = String(Date.now()).slice(-7);
  await openRequest(page, `Vídeo de la cúpula ${tag}`);
  const seen = watchUploads(page);

  // One byte over the limit. Sparse: the browser knows its size without reading it.
  const dir = mkdtempSync(join(tmpdir(), "cupula-e2e-upload-"));
  const tooLarge = join(dir, "cupula-cerrando.mp4");
  const fd = openSync(tooLarge, "w");
  ftruncateSync(fd, MAX_FILE_BYTES + 1);
  closeSync(fd);
  try {
    await page.getByLabel("Mensaje").fill(`La cúpula no cierra del todo ${tag}`);
    await page.getByTestId("file-input").setInputFiles(tooLarge);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const row = page.getByTestId("upload-item");
  await expect(row).toHaveAttribute("data-state", "refused");
  await expect(row.getByRole("alert")).toHaveText("El archivo es demasiado grande para adjuntarlo.");
  await expect(page.getByText("Hasta 67,1 MB por archivo.")).toBeVisible();
  expect(seen.creations).toBe(0);
  await expect(page.getByLabel("Mensaje")).toHaveValue(`La cúpula no cierra del todo ${tag}`);

  // A Windows program named as a photo: only the server, reading its first bytes, can tell.
  const program = Buffer.concat([
    Buffer.from("4d5a90000300000004000000ffff0000", "hex"),
    Buffer.alloc(48, 0),
    Buffer.from("This program cannot be run in DOS mode.\r\r\n$"),
    Buffer.alloc(4096, 0),
  ]);
  await page.getByTestId("file-input").setInputFiles({ name: "foto-montura.jpg", mimeType: "image/jpeg", buffer: program });
  const refused = page.getByTestId("upload-item").filter({ hasText: "foto-montura.jpg" });
  await expect(refused).toHaveAttribute("data-state", "refused");
  await expect(refused.getByRole("alert")).toContainText("Ese tipo de archivo no se admite");
  expect(seen.creations).toBe(1);
  await expect(page.getByLabel("Mensaje")).toHaveValue(`La cúpula no cierra del todo ${tag}`);

  // The text still goes, without the refused files.
  await page.getByRole("button", { name: "Enviar", exact: true }).click();
  const entry = page.getByTestId("timeline-entry").filter({ hasText: `La cúpula no cierra del todo ${tag}` });
  await expect(entry).toHaveCount(1);
  await expect(entry.getByTestId("attachment-link")).toHaveCount(0);
});

test("on a phone, a photo picked with the file chooser goes with a new request", async ({ page }, info) => {
  test.skip(info.project.name !== "phone", "the phone's file chooser");
  const tag = String(Date.now()).slice(-7);
  await signIn(page, account("client", 0));
  await page.goto(`${baseUrl()}/tickets/new`);
  await hydrated(page);

  // The picker offers pictures and videos (so the phone offers its camera and gallery) and
  // documents. No `capture`: it would open the camera only, and the photo may already be taken.
  const input = page.getByTestId("file-input");
  const accept = (await input.getAttribute("accept"))!.split(",").map((type) => type.trim());
  expect(accept).toEqual(expect.arrayContaining(["image/jpeg", "image/heic", "video/mp4", "video/quicktime", "application/pdf"]));
  expect(await input.getAttribute("capture")).toBeNull();

  // A photo as a phone's camera makes one: a JPEG, drawn here by the browser.
  const photo = Buffer.from(
    await page.evaluate(() => {
      const canvas = document.createElement("canvas");
      canvas.width = 640;
      canvas.height = 480;
      const context = canvas.getContext("2d")!;
      context.fillStyle = "#1b2a41";
      context.fillRect(0, 0, 640, 480);
      context.fillStyle = "#f4d35e";
      context.beginPath();
      context.arc(320, 240, 120, 0, 2 * Math.PI);
      context.fill();
      return canvas.toDataURL("image/jpeg", 0.8).split(",")[1];
    }),
    "base64",
  );

  await page.getByLabel("Instalación").check();
  await page.getByLabel("Comentario").fill(`Así queda el pilar de la montura ${tag}`);
  const chooser = page.waitForEvent("filechooser");
  await page.getByTestId("dropzone").locator("button", { hasText: "Elegir archivos" }).tap();
  const picker = await chooser;
  expect(picker.isMultiple()).toBe(true);
  await picker.setFiles({ name: "pilar.jpg", mimeType: "image/jpeg", buffer: photo });
  const row = page.getByTestId("upload-item");
  await expect(row).toContainText("pilar.jpg");
  await expect(row).toHaveAttribute("data-state", "done");

  await page.getByRole("button", { name: "Enviar la solicitud" }).tap();
  await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
  await hydrated(page);
  await expect(page.getByTestId("attachment-link")).toHaveText("pilar.jpg");
  const download = await page.request.get(new URL((await page.getByTestId("attachment-link").getAttribute("href"))!, baseUrl()).href);
  expect(download.headers()["content-type"]).toBe("image/jpeg");
  expect(sha256(await download.body())).toBe(sha256(photo));
});

test("leaving the page while a file uploads asks first, and once it is up does not", async ({ page }) => {
  const tag = String(Date.now()).slice(-7);
  await openRequest(page, `Salir antes de tiempo ${tag}`);
  const ticketUrl = page.url();
  const dialogs: { type: string; message: string }[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push({ type: dialog.type(), message: dialog.message() });
    // The person stays.
    void dialog.dismiss();
  });
  // The chunk waits at the door until the test lets it through, so the upload is surely running.
  let letThrough = () => {};
  const released = new Promise<void>((resolve) => (letThrough = resolve));
  await page.route("**/api/v1/uploads/**", async (route) => {
    if (route.request().method() === "PATCH") await released;
    await route.continue();
  });

  // Browsers ask on leaving only a page the person has used: typing counts.
  await page.getByLabel("Mensaje").click();
  await page.keyboard.type(`Antes de irme ${tag}`);
  await page.getByTestId("file-input").setInputFiles({
    name: "guiado.log",
    mimeType: "text/plain",
    buffer: Buffer.alloc(64 * 1024, "registro de guiado\n"),
  });
  const row = page.getByTestId("upload-item");
  await expect(row).toHaveAttribute("data-state", "uploading");

  // Closing the tab (or reloading, or typing an address): the browser's own question.
  await page.close({ runBeforeUnload: true });
  await expect.poll(() => dialogs.map((d) => d.type)).toEqual(["beforeunload"]);
  expect(page.isClosed()).toBe(false);
  // A link of the portal, which the page follows without unloading: the portal asks.
  const back = page.getByRole("main").getByRole("link", { name: "← Solicitudes" });
  await back.click();
  await expect.poll(() => dialogs.length).toBe(2);
  expect(dialogs[1]).toEqual({
    type: "confirm",
    message: "Hay archivos subiéndose y, si sales de esta página, se detendrán. ¿Salir de todos modos?",
  });
  // Staying keeps everything as it was.
  expect(page.url()).toBe(ticketUrl);
  await expect(page.getByLabel("Mensaje")).toHaveValue(`Antes de irme ${tag}`);
  await expect(row).toHaveAttribute("data-state", "uploading");

  // Once the file is up, both go without a question.
  letThrough();
  await expect(row).toHaveAttribute("data-state", "done");
  await back.click();
  await expect(page).toHaveURL(`${baseUrl()}/`);
  await page.goBack();
  await expect(page).toHaveURL(ticketUrl);
  await page.getByTestId("file-input").setInputFiles({ name: "foco.log", mimeType: "text/plain", buffer: Buffer.from("foco 1520\n") });
  await expect(page.getByTestId("upload-item")).toHaveAttribute("data-state", "done");
  const closed = page.waitForEvent("close");
  await page.close({ runBeforeUnload: true });
  await closed;
  expect(dialogs).toHaveLength(2);
});
