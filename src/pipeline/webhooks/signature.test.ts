import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signPayload, verifySignature } from "./signature.js";

const body = JSON.stringify({ event: "job.completed", id: "j1" });

describe("webhook signature", () => {
  it("is t=<ts>,v1=<hmac-sha256 hex of ts.body>", () => {
    const expected = createHmac("sha256", "s3cret").update(`1700000000.${body}`).digest("hex");
    expect(signPayload("s3cret", body, 1700000000)).toBe(`t=1700000000,v1=${expected}`);
  });

  it("verifies its own signature within the tolerance", () => {
    const header = signPayload("s3cret", body, 1700000000);
    expect(verifySignature("s3cret", body, header, { nowSeconds: 1700000100 })).toEqual({ ok: true, timestampSeconds: 1700000000 });
  });

  it("refuses a changed body, a wrong secret, a stale timestamp and a malformed header", () => {
    const header = signPayload("s3cret", body, 1700000000);
    const now = { nowSeconds: 1700000000 };
    expect(verifySignature("s3cret", `${body} `, header, now)).toEqual({ ok: false, reason: "mismatch" });
    expect(verifySignature("other", body, header, now)).toEqual({ ok: false, reason: "mismatch" });
    expect(verifySignature("s3cret", body, header, { nowSeconds: 1700000301 })).toEqual({ ok: false, reason: "stale" });
    expect(verifySignature("s3cret", body, "v1=abc", now)).toEqual({ ok: false, reason: "malformed" });
    expect(verifySignature("s3cret", body, undefined, now)).toEqual({ ok: false, reason: "malformed" });
  });

  it("carries one v1 per secret while rotating, and either secret verifies", () => {
    const header = signPayload(["new", "old"], body, 1700000000);
    expect(header.split(",")).toHaveLength(3);
    const now = { nowSeconds: 1700000000 };
    expect(verifySignature("old", body, header, now).ok).toBe(true);
    expect(verifySignature("new", body, header, now).ok).toBe(true);
    expect(verifySignature("neither", body, header, now).ok).toBe(false);
  });
});
