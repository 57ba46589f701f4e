import { z } from "zod";
import type { SluiceConfig } from "../../../core/config.ts";
import { SIGNATURE_HEADER, signPayload } from "../../webhooks/signature.ts";
import { defineAction } from "../define.ts";
import { callHttp, notConfigured } from "./http.ts";

type WebhookConfig = SluiceConfig["actions"]["webhook"];

/** `webhook.post`: a JSON body signed like Sluice's completion webhooks, to an allowed URL. */
export function webhookPost(config: WebhookConfig) {
  const allowed = (url: string) => config.allowedUrls.length === 0 || config.allowedUrls.some((prefix) => url.startsWith(prefix));
  const args = z.object({
    url: z
      .url({ protocol: /^https?$/, error: "expected an http(s) URL" })
      .max(2_000)
      .refine(allowed, { error: "the URL is not under ACTIONS_WEBHOOK_ALLOWED_URLS" }),
    body: z.unknown(),
  });
  return defineAction({
    name: "webhook.post",
    description: "POST a signed JSON body (Sluice-Signature: t=...,v1=...) to a URL",
    args,
    async execute(ctx, input) {
      if (!config.secret) throw notConfigured("webhook.post", "ACTIONS_WEBHOOK_SECRET");
      const body = JSON.stringify(input.body ?? null);
      const signature = signPayload(config.secret, body, Math.floor(Date.now() / 1000));
      const { status } = await callHttp({
        service: "webhook receiver",
        url: input.url,
        // The execution id doubles as an idempotency key the receiver can deduplicate on.
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature, "idempotency-key": ctx.executionId },
        body,
        signal: ctx.signal,
      });
      return { status };
    },
  });
}
