import { SluiceError } from "../../core/errors.ts";

interface DriverError {
  code?: string;
  message?: string;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
// node-postgres reports a connection lost mid-query, or one that could not be made in time, with no code.
const CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect)/;

/**
 * Driver errors become ours in this one place. SQLSTATE classes decide: 23505 (unique) is a
 * conflict; 08xxx (connection), 57P0x (shutdown) and 53xxx (resources) are transient, as are
 * network errors and a lost connection (DEPENDENCY_UNAVAILABLE: a job that meets one waits).
 */
export function translateStoreError(err: unknown): unknown {
  if (err instanceof SluiceError) return err;
  const driver = (err ?? {}) as DriverError;
  const code = typeof driver.code === "string" ? driver.code : "";
  if (code === "23505") return new SluiceError("CONFLICT", driver.message, { cause: err });
  if (
    code.startsWith("08") ||
    code.startsWith("57P0") ||
    code.startsWith("53") ||
    NETWORK_CODES.has(code) ||
    CONNECTION_LOST.test(driver.message ?? "")
  ) {
    return new SluiceError("DEPENDENCY_UNAVAILABLE", `Database unavailable: ${driver.message ?? code}`, { cause: err });
  }
  return err;
}
