// The tests' mail server: the portal sends its e-mails here through a real SMTP conversation
// (CUPULA_SMTP_URL), and each message is kept as a JSON file in a directory the tests read
// (support.ts: `newestMail`). It speaks the commands a sending client uses (RFC 5321).
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";

/** A message as it arrived. */
export type Delivered = { seq: number; to: string[]; data: string };

export function startMailbox(dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  let seq = 0;
  const server = createServer((socket: Socket) => {
    // The sender keeps its connection open between mails; the test run need not wait for it.
    socket.unref();
    let buffer = "";
    let inData = false;
    let data = "";
    let to: string[] = [];
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply("220 mailbox.test ESMTP");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let end: number;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            seq += 1;
            const message: Delivered = { seq, to, data };
            writeFileSync(join(dir, `${String(seq).padStart(6, "0")}.json`), JSON.stringify(message));
            reply("250 2.0.0 queued");
          } else {
            data += `${line.startsWith(".") ? line.slice(1) : line}\r\n`;
          }
          continue;
        }
        const command = line.toUpperCase();
        if (command.startsWith("EHLO") || command.startsWith("HELO")) {
          socket.write("250-mailbox.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
        } else if (command.startsWith("MAIL FROM:")) {
          to = [];
          reply("250 2.1.0 OK");
        } else if (command.startsWith("RCPT TO:")) {
          to.push(line.slice(line.indexOf("<") + 1, line.lastIndexOf(">")));
          reply("250 2.1.5 OK");
        } else if (command === "DATA") {
          inData = true;
          data = "";
          reply("354 go ahead");
        } else if (command === "RSET" || command === "NOOP") {
          reply("250 2.0.0 OK");
        } else if (command === "QUIT") {
          reply("221 2.0.0 bye");
          socket.end();
        } else {
          reply("502 5.5.2 not implemented");
        }
      }
    });
    socket.on("error", () => socket.destroy());
  });
  return new Promise((resolvePort, reject) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      // The test run ends without waiting for it.
      server.unref();
      typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"));
    });
  });
}
