import { defineConfig, devices } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// What the microphone hears in the voice tests: Spanish speech made by espeak-ng, 16 kHz mono,
// played by Chromium's fake capture device (in a loop).
export const VOICE_PHRASE = "El telescopio no abre la cúpula desde ayer por la noche";
const phraseHash = createHash("sha256").update(VOICE_PHRASE).digest("hex").slice(0, 12);
const voiceWav = join(tmpdir(), `cupula-e2e-voice-${phraseHash}.wav`);
if (!existsSync(voiceWav)) {
  const raw = `${voiceWav}.raw.wav`;
  execFileSync("espeak-ng", ["-v", "es", "-w", raw, VOICE_PHRASE]);
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-i", raw, "-ar", "16000", "-ac", "1", voiceWav]);
}

// Debian's Chromium, started as the test machines allow (root, no network but loopback).
const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  // A microphone that needs no permission prompt and speaks the phrase above.
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  `--use-file-for-fake-audio-capture=${voiceWav}`,
];

export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.ts",
  globalTeardown: "./global-teardown.ts",
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  use: {
    locale: "es-ES",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: chromiumArgs,
    },
  },
  projects: [
    { name: "desktop", use: { ...devices["Desktop Chrome"] } },
    {
      name: "phone",
      use: { ...devices["Pixel 7"] },
      // The phone run covers what people do at the telescope; screenshots are taken once.
      grepInvert: /@desktop-only/,
    },
  ],
});
