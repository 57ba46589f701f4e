import type { Transporter } from "nodemailer";
import { SluiceError } from "../../../core/errors.ts";
import type { SluiceConfig } from "../../../core/config.ts";
import { defineAction } from "../define.ts";
import { notConfigured } from "./http.ts";
import { mailArgs, mailOptions } from "./mail.ts";

type EmailConfig = SluiceConfig["actions"]["email"];

/**
 * SMTP's own verdicts: a 4xx reply is "try later" and the server kept nothing; a connection that
 * never opened sent nothing. A 5xx is a permanent refusal. Anything after DATA (a dropped line, a
 * timeout) may have been delivered, so it is final for the key.
 */
function translate(err: unknown): SluiceError {
  const e = err as { responseCode?: number; code?: string; command?: string; message?: string };
  const temporary = typeof e.responseCode === "number" && e.responseCode >= 400 && e.responseCode < 500;
  const neverConnected = e.code === "ECONNECTION" && e.command === "CONN";
  const retryable = temporary || neverConnected;
  return new SluiceError("ACTION_FAILED", `SMTP: ${e.message ?? String(err)}`.slice(0, 500), {
    retryable,
    details: { smtp_code: e.responseCode ?? null },
    cause: err,
  });
}

/** `email.send`: nodemailer over SMTP (ACTIONS_SMTP_URL). */
export function emailSend(config: EmailConfig, timeoutMs: number) {
  let transport: Transporter | undefined;
  // nodemailer is imported on the first send: it is a large load on every start otherwise.
  const transporter = async (): Promise<Transporter> => {
    if (!config.smtpUrl) throw notConfigured("email.send", "ACTIONS_SMTP_URL");
    const { default: nodemailer } = await import("nodemailer");
    transport ??= nodemailer.createTransport(config.smtpUrl, {
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    } as never);
    return transport;
  };
  return defineAction({
    name: "email.send",
    description: "Send an email over SMTP (ACTIONS_SMTP_URL)",
    args: mailArgs,
    async execute(ctx, args) {
      const options = mailOptions(args, ctx.executionId, config.from);
      if (!options.from) throw new SluiceError("ACTION_ARGS_INVALID", "email.send needs `from` or ACTIONS_EMAIL_FROM");
      try {
        const info = (await (await transporter()).sendMail(options)) as { messageId?: string; accepted?: unknown[]; rejected?: unknown[] };
        return { message_id: info.messageId ?? null, accepted: info.accepted ?? [], rejected: info.rejected ?? [] };
      } catch (err) {
        throw err instanceof SluiceError ? err : translate(err);
      }
    },
  });
}
