/**
 * Enforced limits of the fake provider, modelled as OpenAI documents its own: per model, a
 * bucket of `limit` requests (or tokens) per minute that refills continuously, so a full minute's
 * budget can be spent at once but no faster than it refills afterwards.
 */

export interface EnforcedLimits {
  /** Requests per minute per model. */
  rpm?: number;
  /** Tokens per minute per model. */
  tpm?: number;
  /**
   * `usage`: a request costs its prompt plus completion tokens (what it really used).
   * `reserved`: prompt plus `max_tokens`, charged up front like OpenAI's estimate.
   * @default "usage"
   */
  tokenAccounting?: "usage" | "reserved";
  /**
   * Bucket size as a fraction of the per-minute limit: 1 lets a whole minute's budget through at
   * once (OpenAI's behaviour); smaller makes short tests sensitive to bursts.
   * @default 1
   */
  burst?: number;
}

class Bucket {
  private level: number;
  private last: number;
  constructor(
    readonly perMinute: number,
    readonly capacity: number,
    now: number,
  ) {
    this.level = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    this.level = Math.min(this.capacity, this.level + ((now - this.last) * this.perMinute) / 60_000);
    this.last = now;
  }

  /** Milliseconds until `amount` is available (0 when it is now). */
  waitFor(amount: number, now: number): number {
    this.refill(now);
    return this.level >= amount ? 0 : Math.ceil(((amount - this.level) * 60_000) / this.perMinute);
  }

  take(amount: number): void {
    this.level -= amount;
  }

  remaining(): number {
    return Math.max(0, Math.floor(this.level));
  }

  /** Time until full again, for x-ratelimit-reset-*. */
  resetMs(): number {
    return Math.ceil(((this.capacity - this.level) * 60_000) / this.perMinute);
  }
}

export interface LimitDecision {
  ok: boolean;
  retryAfterMs: number;
  exhausted: "requests" | "tokens" | undefined;
  headers: Record<string, string>;
}

const formatReset = (ms: number): string => (ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(3).replace(/\.?0+$/, "")}s`);

export class LimitEnforcer {
  private readonly requests = new Map<string, Bucket>();
  private readonly tokens = new Map<string, Bucket>();
  constructor(readonly limits: EnforcedLimits) {}

  private bucket(map: Map<string, Bucket>, model: string, perMinute: number | undefined, now: number): Bucket | undefined {
    if (!perMinute) return undefined;
    let bucket = map.get(model);
    if (!bucket) map.set(model, (bucket = new Bucket(perMinute, Math.max(1, perMinute * (this.limits.burst ?? 1)), now)));
    return bucket;
  }

  /** Charges one request of `tokens` tokens to `model`, or says how long until it would fit. */
  admit(model: string, tokens: number, now = Date.now()): LimitDecision {
    const req = this.bucket(this.requests, model, this.limits.rpm, now);
    const tok = this.bucket(this.tokens, model, this.limits.tpm, now);
    const waitReq = req?.waitFor(1, now) ?? 0;
    const waitTok = tok?.waitFor(tokens, now) ?? 0;
    const ok = waitReq === 0 && waitTok === 0;
    if (ok) {
      req?.take(1);
      tok?.take(tokens);
    }
    return {
      ok,
      retryAfterMs: Math.max(waitReq, waitTok),
      exhausted: waitReq > 0 ? "requests" : waitTok > 0 ? "tokens" : undefined,
      headers: this.headers(req, tok),
    };
  }

  private headers(req: Bucket | undefined, tok: Bucket | undefined): Record<string, string> {
    const h: Record<string, string> = {};
    if (req) {
      h["x-ratelimit-limit-requests"] = String(req.perMinute);
      h["x-ratelimit-remaining-requests"] = String(req.remaining());
      h["x-ratelimit-reset-requests"] = formatReset(req.resetMs());
    }
    if (tok) {
      h["x-ratelimit-limit-tokens"] = String(tok.perMinute);
      h["x-ratelimit-remaining-tokens"] = String(tok.remaining());
      h["x-ratelimit-reset-tokens"] = formatReset(tok.resetMs());
    }
    return h;
  }
}
