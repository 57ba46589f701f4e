export { createWebhooks, WEBHOOKS_QUEUE, type Webhooks, type WebhooksOptions, type DeliveryView } from "./service.ts";
export { signPayload, verifySignature, SIGNATURE_HEADER, DEFAULT_TOLERANCE_SECONDS } from "./signature.ts";
export { jobEvent, runEvent, type SettledJob, type SettledRun, type WebhookBody, type WebhookEvent } from "./payloads.ts";
