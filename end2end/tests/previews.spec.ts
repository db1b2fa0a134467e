// Files as people look at them in a ticket: a photo, a video and a PDF dropped on a reply, each
// with its own progress; then the photo's thumbnail (turned upright from its EXIF orientation)
// opening the lightbox, the video playing in the page, and the PDF downloading whole.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect, test, type Locator, type Page } from "@playwright/test";
import { account, baseUrl, hydrated, signIn } from "./support";

const fixture = (name: string) => readFileSync(resolve(__dirname, "../fixtures", name));
// 1200 × 800 as stored, EXIF orientation 6: 800 × 1200 upright.
const PHOTO = fixture("photo.jpg");
const VIDEO = fixture("clip.webm");
const PDF = fixture("manual.pdf");

/** A new request of the demo client's: its page, hydrated. */
async function newRequest(page: Page, text: string) {
  await signIn(page, account("client", 0));
  await page.goto(`${baseUrl()}/tickets/new`);
  await hydrated(page);
  await page.getByLabel("Consulta").check();
  await page.getByLabel("Comentario").fill(text);
  await page.getByRole("button", { name: "Enviar la solicitud" }).click();
  await expect(page).toHaveURL(/\/tickets\/OBS-\d{4}-\d{5}\?created=1$/);
  await hydrated(page);
}

/** Drops files on the reply's drop zone, as a drag from the desktop does. */
async function drop(page: Page, files: { name: string; type: string; bytes: Buffer }[]) {
  const data = await page.evaluateHandle((files) => {
    const transfer = new DataTransfer();
    for (const file of files) {
      const bytes = Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], file.name, { type: file.type }));
    }
    return transfer;
  }, files.map((f) => ({ name: f.name, type: f.type, base64: f.bytes.toString("base64") })));
  const zone = page.getByTestId("dropzone");
  await zone.dispatchEvent("dragenter", { dataTransfer: data });
  await expect(zone).toHaveClass(/is-hover/);
  await zone.dispatchEvent("drop", { dataTransfer: data });
}

/** Sends a reply with `text` and the files already uploaded: its timeline entry. */
async function send(page: Page, text: string): Promise<Locator> {
  await page.getByLabel("Mensaje").fill(text);
  await page.getByRole("button", { name: "Enviar", exact: true }).click();
  const entry = page.getByTestId("timeline-entry").filter({ hasText: text });
  await expect(entry).toHaveCount(1);
  return entry;
}

/** Previews are made off the request path: reloads until the entry shows `count` thumbnails. */
async function thumbnails(page: Page, text: string, count: number): Promise<Locator> {
  const entry = page.getByTestId("timeline-entry").filter({ hasText: text });
  const thumbnails = entry.getByTestId("attachment-thumbnail");
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(thumbnails).toHaveCount(count, { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  return thumbnails;
}

async function naturalSize(image: Locator) {
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeTruthy();
  return image.evaluate((img: HTMLImageElement) => ({ width: img.naturalWidth, height: img.naturalHeight }));
}

test("a photo, a video and a PDF dropped on a reply: thumbnail and lightbox, player, download", async ({
  page,
}, testInfo) => {
  const tag = String(Date.now()).slice(-7);
  await newRequest(page, `Previsualizaciones ${tag}`);

  await drop(page, [
    { name: "montura.jpg", type: "image/jpeg", bytes: PHOTO },
    { name: "cúpula.webm", type: "video/webm", bytes: VIDEO },
    { name: "manual.pdf", type: "application/pdf", bytes: PDF },
  ]);
  // Each file its own row and progress bar, until all three are done.
  const rows = page.getByTestId("upload-item");
  await expect(rows).toHaveCount(3);
  for (const name of ["montura.jpg", "cúpula.webm", "manual.pdf"]) {
    const row = rows.filter({ hasText: name });
    await expect(row.getByRole("progressbar", { name: `Progreso de ${name}` })).toBeVisible();
    await expect(row).toHaveAttribute("data-state", "done");
    await expect(row.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  }
  const text = `La montura, la cúpula y el manual ${tag}`;
  await send(page, text);

  // The photo: a lazy thumbnail with its size and name, upright (EXIF orientation applied).
  const thumbnail = (await thumbnails(page, text, 1)).first();
  const entry = page.getByTestId("timeline-entry").filter({ hasText: text });
  const image = thumbnail.locator("img");
  await expect(image).toHaveAttribute("alt", "montura.jpg");
  await expect(image).toHaveAttribute("loading", "lazy");
  const width = Number(await image.getAttribute("width"));
  const height = Number(await image.getAttribute("height"));
  expect([width, height]).toEqual([320, 480]);
  expect(await naturalSize(image)).toEqual({ width, height });
  // Listed in the order they finished uploading, which parallel uploads do not fix.
  const names = await entry.getByTestId("attachment-link").allTextContents();
  expect(names.sort()).toEqual(["cúpula.webm", "manual.pdf", "montura.jpg"]);
  await page.screenshot({ path: testInfo.outputPath("timeline.png"), fullPage: true });

  // The lightbox: the larger picture, name, size, download; the focus inside, then back.
  await thumbnail.click();
  const lightbox = page.getByTestId("lightbox");
  await expect(lightbox).toBeVisible();
  await expect(lightbox.getByRole("heading", { name: "montura.jpg" })).toBeVisible();
  await expect(page.getByTestId("lightbox-position")).toHaveText(/^1 de 1 · JPEG · 48 KB$/);
  const large = lightbox.locator(".lightbox-stage img");
  expect(await naturalSize(large)).toEqual({ width: 800, height: 1200 });
  await expect(lightbox.getByRole("link", { name: "Descargar" })).toHaveAttribute("download", "montura.jpg");
  const close = lightbox.getByRole("button", { name: "Cerrar" });
  await expect(close).toBeFocused();
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    expect(await lightbox.evaluate((dialog) => dialog.contains(document.activeElement))).toBe(true);
  }
  await page.screenshot({ path: testInfo.outputPath("lightbox.png") });
  await page.keyboard.press("Escape");
  await expect(lightbox).toBeHidden();
  await expect(thumbnail).toBeFocused();

  // The video plays in the page, from the download address (ranges).
  const video = entry.getByTestId("attachment-video");
  await expect(video).toHaveAttribute("preload", "metadata");
  await video.evaluate(async (player: HTMLVideoElement) => {
    player.muted = true;
    await player.play();
  });
  await expect
    .poll(() => video.evaluate((player: HTMLVideoElement) => player.readyState >= 2 && player.currentTime > 0))
    .toBe(true);

  // The PDF: a card with its first page, which downloads the file as it was sent.
  const pdf = entry.locator(".file-pdf");
  await expect(pdf.locator("img")).toHaveAttribute("alt", "Primera página de manual.pdf");
  expect((await naturalSize(pdf.locator("img"))).height).toBe(480);
  const downloaded = page.waitForEvent("download");
  await pdf.getByTestId("attachment-link").click();
  const download = await downloaded;
  expect(download.suggestedFilename()).toBe("manual.pdf");
  expect(readFileSync(await download.path())).toEqual(PDF);
});

test("the lightbox goes through the ticket's images with arrow keys, buttons and swipes", async ({
  page,
}, testInfo) => {
  const tag = String(Date.now()).slice(-7);
  await newRequest(page, `Galería ${tag}`);
  const files = [
    { name: "primera.jpg", type: "image/jpeg", bytes: PHOTO },
    { name: "segunda.png", type: "image/png", bytes: fixture("logo.png") },
  ];
  for (const [i, file] of files.entries()) {
    await page.getByTestId("file-input").setInputFiles({ name: file.name, mimeType: file.type, buffer: file.bytes });
    await expect(page.getByTestId("upload-item")).toHaveAttribute("data-state", "done");
    await send(page, `Foto ${i + 1} ${tag}`);
    await expect(page.getByTestId("upload-item")).toHaveCount(0);
  }
  // The larger photo's preview may be made after the small one's.
  const first = await thumbnails(page, `Foto 1 ${tag}`, 1);
  await thumbnails(page, `Foto 2 ${tag}`, 1);
  const lightbox = page.getByTestId("lightbox");
  const position = page.getByTestId("lightbox-position");
  const name = lightbox.getByRole("heading", { level: 2 });
  // At either end its button is disabled (and out of sight and of the accessibility tree).
  const previous = lightbox.locator(".lightbox-previous");
  const next = lightbox.locator(".lightbox-next");
  await expect(previous).toHaveAttribute("aria-label", "Imagen anterior");
  await expect(next).toHaveAttribute("aria-label", "Imagen siguiente");

  await first.click();
  await expect(position).toHaveText(/^1 de 2/);
  await expect(previous).toBeDisabled();
  await page.keyboard.press("ArrowRight");
  await expect(name).toHaveText("segunda.png");
  await expect(position).toHaveText(/^2 de 2/);
  await expect(next).toBeDisabled();
  await page.keyboard.press("ArrowLeft");
  await expect(name).toHaveText("primera.jpg");
  await next.click();
  await expect(name).toHaveText("segunda.png");
  await previous.click();
  await expect(name).toHaveText("primera.jpg");

  // A swipe to the left shows the next image; to the right, the one before.
  const stage = lightbox.locator(".lightbox-stage");
  const swipe = async (from: number, to: number) => {
    await stage.dispatchEvent("pointerdown", { pointerType: "touch", clientX: from, clientY: 300, isPrimary: true });
    await stage.dispatchEvent("pointerup", { pointerType: "touch", clientX: to, clientY: 300, isPrimary: true });
  };
  await swipe(300, 100);
  await expect(name).toHaveText("segunda.png");
  await swipe(100, 300);
  await expect(name).toHaveText("primera.jpg");
  await page.screenshot({ path: testInfo.outputPath("lightbox-gallery.png") });

  await lightbox.getByRole("button", { name: "Cerrar" }).click();
  await expect(lightbox).toBeHidden();
  await expect(first).toBeFocused();
});
