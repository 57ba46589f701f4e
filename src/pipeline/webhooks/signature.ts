import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures, Stripe-style, so receivers can reuse what they already know.
 *
 * Sluice sends the header `Sluice-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
 * HMAC-SHA256 over the exact bytes `"<t>.<raw body>"` keyed with the workspace's signing secret.
 * A receiver recomputes the HMAC over the raw body it received (before any JSON parsing), compares
 * in constant time, and rejects a timestamp older than its tolerance, which stops replays of a
 * captured delivery. During secret rotation the header carries one `v1=` per valid secret; a
 * receiver accepts the request if any of them matches.
 */

/** Name of the HTTP header that carries the signature. */
export const SIGNATURE_HEADER = "Sluice-Signature";

/** Default age, in seconds, beyond which a signed request is refused as a possible replay. */
const DEFAULT_TOLERANCE_SECONDS = 300;

function hmacHex(secret: string, body: string, timestampSeconds: number): string {
  return createHmac("sha256", secret).update(`${timestampSeconds}.${body}`, "utf8").digest("hex");
}

/**
 * The signature header value for `body` at `timestampSeconds`. Pass several secrets (current
 * first) while rotating so receivers holding either the old or the new secret accept it.
 */
export function signPayload(secret: string | readonly string[], body: string, timestampSeconds: number): string {
  const secrets = typeof secret === "string" ? [secret] : secret;
  const signatures = secrets.map((one) => `v1=${hmacHex(one, body, timestampSeconds)}`);
  return [`t=${timestampSeconds}`, ...signatures].join(",");
}

export interface VerifySignatureOptions {
  /** Maximum age of the timestamp in seconds. @default 300 */
  toleranceSeconds?: number;
  /** Current time in unix seconds (tests pass a fixed one). @default Date.now() / 1000 */
  nowSeconds?: number;
}

export type VerifyResult = { ok: true; timestampSeconds: number } | { ok: false; reason: "malformed" | "stale" | "mismatch" };

interface ParsedHeader {
  timestampSeconds: number;
  signatures: string[];
}

function parseHeader(header: string): ParsedHeader | undefined {
  let timestampSeconds: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t" && /^\d+$/.test(value)) timestampSeconds = Number(value);
    if (key === "v1" && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestampSeconds === undefined || signatures.length === 0) return undefined;
  return { timestampSeconds, signatures };
}

function sameHex(expected: string, candidate: string): boolean {
  return timingSafeEqual(Buffer.from(expected, "hex"), Buffer.from(candidate, "hex"));
}

/**
 * Checks a `Sluice-Signature` header against the raw request body. Accepts when any `v1=` matches
 * any of `secret` (a list lets a receiver rotate its own copy) and the timestamp is within the
 * tolerance in either direction (clock skew).
 */
export function verifySignature(
  secret: string | readonly string[],
  body: string,
  header: string | undefined,
  options: VerifySignatureOptions = {},
): VerifyResult {
  const parsed = header === undefined ? undefined : parseHeader(header);
  if (parsed === undefined) return { ok: false, reason: "malformed" };
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - parsed.timestampSeconds) > tolerance) return { ok: false, reason: "stale" };
  const secrets = typeof secret === "string" ? [secret] : secret;
  const matched = secrets.some((one) => {
    const expected = hmacHex(one, body, parsed.timestampSeconds);
    return parsed.signatures.some((candidate) => sameHex(expected, candidate));
  });
  return matched ? { ok: true, timestampSeconds: parsed.timestampSeconds } : { ok: false, reason: "mismatch" };
}
