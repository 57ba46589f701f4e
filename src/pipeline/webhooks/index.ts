export { createWebhooks, WEBHOOKS_QUEUE, type Webhooks } from "./service.ts";
export { signPayload, verifySignature, SIGNATURE_HEADER } from "./signature.ts";
export { type WebhookBody, type WebhookEvent } from "./payloads.ts";
