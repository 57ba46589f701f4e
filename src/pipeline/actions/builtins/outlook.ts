import type { SluiceConfig } from "../../../core/config.ts";
import { defineAction } from "../define.ts";
import { callHttp, joinUrl, notConfigured } from "./http.ts";
import { list, mailArgs } from "./mail.ts";

type GraphConfig = SluiceConfig["actions"]["outlook"];

const recipients = (value: string | string[] | undefined) => list(value).map((address) => ({ emailAddress: { address } }));

/** `outlook.send`: Microsoft Graph POST /users/{id}/sendMail (or /me/sendMail), which answers 202 with no body. */
export function outlookSend(config: GraphConfig) {
  return defineAction({
    name: "outlook.send",
    description: "Send an email through Microsoft Graph (sendMail)",
    args: mailArgs,
    async execute(ctx, args) {
      if (!config.token) throw notConfigured("outlook.send", "ACTIONS_GRAPH_TOKEN");
      const path = config.userId ? `/users/${encodeURIComponent(config.userId)}/sendMail` : "/me/sendMail";
      const html = args.html !== undefined;
      const message = {
        subject: args.subject,
        body: { contentType: html ? "HTML" : "Text", content: html ? args.html : args.text },
        toRecipients: recipients(args.to),
        ccRecipients: recipients(args.cc),
        bccRecipients: recipients(args.bcc),
        ...(args.reply_to ? { replyTo: recipients(args.reply_to) } : {}),
        ...(args.from ? { from: { emailAddress: { address: args.from } } } : {}),
        internetMessageHeaders: [{ name: "X-Sluice-Execution", value: ctx.executionId }],
      };
      const { status } = await callHttp({
        service: "Microsoft Graph",
        url: joinUrl(config.baseUrl, path),
        headers: { authorization: `Bearer ${config.token}`, "content-type": "application/json" },
        body: JSON.stringify({ message, saveToSentItems: true }),
        signal: ctx.signal,
      });
      return { status };
    },
  });
}
