import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

/**
 * A real SMTP server on loopback (the `smtp-server` package), for email.send: it accepts any
 * login, keeps every message's envelope and raw text, and can refuse the next messages with a
 * given reply code (e.g. 451 try later, 550 rejected).
 */
export interface TestSmtpServer {
  readonly url: string;
  messages: Array<{ from: string; to: string[]; raw: string }>;
  refuseNext(count: number, code: number): void;
  close(): Promise<void>;
}

export async function startTestSmtpServer(): Promise<TestSmtpServer> {
  const messages: TestSmtpServer["messages"] = [];
  let refusals = { count: 0, code: 451 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth: (_auth, _session, callback) => callback(null, { user: "test" }),
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (refusals.count > 0) {
          refusals.count -= 1;
          const err = Object.assign(new Error(refusals.code >= 500 ? "Mailbox unavailable" : "Try again later"), {
            responseCode: refusals.code,
          });
          return callback(err);
        }
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
        messages.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString("utf8") });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://user:secret-pass@127.0.0.1:${port}`,
    messages,
    refuseNext(count, code) {
      refusals = { count, code };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
