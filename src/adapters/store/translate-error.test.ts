import { describe, expect, it } from "vitest";
import { SluiceError } from "../../core/errors.ts";
import { translateStoreError } from "./translate-error.ts";

const codeOf = (err: unknown): string | undefined => (err instanceof SluiceError ? err.code : undefined);

describe("store driver errors", () => {
  it("makes a server going away, however the driver says it, DEPENDENCY_UNAVAILABLE", () => {
    const lost = [
      Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }),
      Object.assign(new Error("the database system is starting up"), { code: "57P03" }),
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
      new Error("Connection terminated unexpectedly"),
      new Error("Client has encountered a connection error and is not queryable"),
      new Error("timeout exceeded when trying to connect"),
    ];
    for (const err of lost) expect(codeOf(translateStoreError(err)), err.message).toBe("DEPENDENCY_UNAVAILABLE");
  });

  it("leaves the query's own errors alone, and makes a unique violation a conflict", () => {
    const syntax = Object.assign(new Error('syntax error at or near "SELEC"'), { code: "42601" });
    expect(translateStoreError(syntax)).toBe(syntax);
    expect(codeOf(translateStoreError(Object.assign(new Error("duplicate key"), { code: "23505" })))).toBe("CONFLICT");
  });
});
