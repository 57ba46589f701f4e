import { z } from "zod";
import type { SendMailOptions } from "nodemailer";

/** The message every mail action takes: one shape for SMTP, Gmail and Outlook, so an allowlist can swap them. */
const address = z.email({ error: "expected an email address" }).max(320);
const addresses = z.union([address, z.array(address).min(1).max(100)]);

export const mailArgs = z
  .object({
    to: addresses,
    cc: addresses.optional(),
    bcc: addresses.optional(),
    subject: z.string().min(1).max(998),
    text: z.string().max(1_000_000).optional(),
    html: z.string().max(1_000_000).optional(),
    from: address.optional(),
    reply_to: address.optional(),
  })
  .refine((m) => m.text !== undefined || m.html !== undefined, { error: "give text or html" });

export type MailArgs = z.output<typeof mailArgs>;

export const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/**
 * nodemailer's options for the message. The Message-ID is derived from the execution, so a
 * receiving system that saw it once (a re-run a person approved) can recognise it.
 */
export function mailOptions(args: MailArgs, executionId: string, defaultFrom: string | undefined): SendMailOptions {
  return {
    from: args.from ?? defaultFrom,
    to: list(args.to),
    cc: list(args.cc),
    bcc: list(args.bcc),
    subject: args.subject,
    ...(args.text !== undefined ? { text: args.text } : {}),
    ...(args.html !== undefined ? { html: args.html } : {}),
    ...(args.reply_to ? { replyTo: args.reply_to } : {}),
    messageId: `<${executionId}@sluice.actions>`,
  };
}
