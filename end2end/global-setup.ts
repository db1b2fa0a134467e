// Starts the built portal on a free port with an empty data directory, like a newcomer's first
// run, and reads the demo accounts it prints once. Tests find both in environment variables.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startMailbox } from "./mailbox";

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export default async function globalSetup() {
  const binary = resolve(__dirname, process.env.CUPULA_BIN ?? "../target/debug/cupula");
  const dataDir = mkdtempSync(join(tmpdir(), "cupula-e2e-"));
  const port = await freePort();
  // Its e-mails go to the tests' mail server, whose messages the tests read (newestMail).
  const mailbox = mkdtempSync(join(tmpdir(), "cupula-e2e-mail-"));
  const smtpPort = await startMailbox(mailbox);
  process.env.CUPULA_E2E_MAILBOX = mailbox;
  // Replies to its e-mails come in through its own SMTP listener (replies.spec.ts).
  const inboundPort = await freePort();
  process.env.CUPULA_E2E_INBOUND_PORT = String(inboundPort);
  const env: NodeJS.ProcessEnv = {
    CUPULA_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    CUPULA_INBOUND_SMTP_LISTEN: `127.0.0.1:${inboundPort}`,
    PATH: process.env.PATH,
    CUPULA_LISTEN: `127.0.0.1:${port}`,
    CUPULA_DATA_DIR: dataDir,
    CUPULA_SITE_ROOT: resolve(__dirname, "../target/site"),
    RUST_LOG: "warn,cupula=info",
    // Small, so a test can offer a file one byte too large (uploads.spec.ts); every file the
    // tests attach stays under it.
    CUPULA_MAX_FILE_BYTES: String(64 * 1024 * 1024),
  };
  // The built-in speech engine's model (scripts/lib.sh provisions it), so voice comments are
  // transcribed while the person speaks.
  if (process.env.CUPULA_TEST_SPEECH_MODEL) {
    env.CUPULA_SPEECH_MODEL = process.env.CUPULA_TEST_SPEECH_MODEL;
    // The browser shares the machine's two cores: whisper.cpp's threads wait for each other
    // by spinning, and with one core taken a partial text took 10-30 s instead of 3.
    env.CUPULA_SPEECH_THREADS = "1";
  }
  if (process.env.CUPULA_E2E_DATABASE_URL) {
    env.CUPULA_DATABASE_URL = process.env.CUPULA_E2E_DATABASE_URL;
  }
  // Files in the test S3 server's bucket (scripts/s3.sh), under a prefix of this run's own.
  if (process.env.CUPULA_E2E_S3_ENDPOINT) {
    Object.assign(env, {
      CUPULA_S3_ENDPOINT: process.env.CUPULA_E2E_S3_ENDPOINT,
      CUPULA_S3_BUCKET: "cupula-test",
      CUPULA_S3_PREFIX: `e2e-${port}`,
      CUPULA_S3_ACCESS_KEY_ID: "cupula-test",
      CUPULA_S3_SECRET_ACCESS_KEY: "cupula-test-secret",
    });
  }
  const server = spawn(binary, ["serve", "--demo"], { env, stdio: ["ignore", "pipe", "pipe"] });

  const accounts: { role: string; email: string; password: string }[] = [];
  let output = "";
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`the portal did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split("\n")) {
        const match = line.match(/^\s+(admin|agent|client)\s+(\S+@\S+)\s+(\S+)\s*$/);
        if (match && !accounts.some((a) => a.email === match[2])) {
          accounts.push({ role: match[1], email: match[2], password: match[3] });
        }
      }
      if (output.includes("is listening")) {
        clearTimeout(timer);
        ready();
      }
    };
    server.stdout.on("data", onData);
    server.stderr.on("data", onData);
    server.on("exit", (code) => fail(new Error(`the portal exited with ${code}:\n${output}`)));
  });
  if (accounts.length !== 4) {
    throw new Error(`expected 4 demo accounts on first start, read ${accounts.length}:\n${output}`);
  }

  process.env.CUPULA_E2E_URL = `http://127.0.0.1:${port}`;
  // The same settings let tests run the operator's commands (`cupula outbox`) on this portal.
  process.env.CUPULA_E2E_SERVER_ENV = JSON.stringify(env);
  process.env.CUPULA_E2E_ACCOUNTS = JSON.stringify(accounts);
  process.env.CUPULA_E2E_PID = String(server.pid);
}
