import type { SluiceConfig } from "../../../core/config.ts";
import { defineAction } from "../define.ts";
import { callHttp, joinUrl, notConfigured } from "./http.ts";
import { mailArgs, mailOptions } from "./mail.ts";

type GmailConfig = SluiceConfig["actions"]["gmail"];

/** The RFC 2822 message, base64url-encoded, as users.messages.send takes it in `raw`. */
async function rawMessage(options: ReturnType<typeof mailOptions>): Promise<string> {
  // Imported here, not at start: nodemailer is a large load that most processes never use.
  const { default: MailComposer } = await import("nodemailer/lib/mail-composer/index.js");
  const message = await new MailComposer(options).compile().build();
  return message.toString("base64url");
}

/** `gmail.send`: Gmail API users.messages.send (ACTIONS_GMAIL_TOKEN, ACTIONS_GMAIL_BASE_URL). */
export function gmailSend(config: GmailConfig) {
  return defineAction({
    name: "gmail.send",
    description: "Send an email through the Gmail API (users.messages.send)",
    args: mailArgs,
    async execute(ctx, args) {
      if (!config.token) throw notConfigured("gmail.send", "ACTIONS_GMAIL_TOKEN");
      const raw = await rawMessage(mailOptions(args, ctx.executionId, args.from));
      const { body } = await callHttp({
        service: "Gmail API",
        url: joinUrl(config.baseUrl, `/gmail/v1/users/${encodeURIComponent(config.userId)}/messages/send`),
        headers: { authorization: `Bearer ${config.token}`, "content-type": "application/json" },
        body: JSON.stringify({ raw }),
        signal: ctx.signal,
      });
      const sent = (body ?? {}) as { id?: string; threadId?: string };
      return { id: sent.id ?? null, thread_id: sent.threadId ?? null };
    },
  });
}
