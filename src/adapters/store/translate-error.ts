import { SluiceError } from "../../core/errors.ts";

interface DriverError {
  code?: string;
  message?: string;
}

/**
 * Driver errors become ours in this one place. SQLSTATE classes decide: 23505 (unique) is a
 * conflict; 08xxx (connection), 57P0x (shutdown) and 53xxx (resources) are transient.
 */
export function translateStoreError(err: unknown): unknown {
  if (err instanceof SluiceError) return err;
  const driver = (err ?? {}) as DriverError;
  const code = typeof driver.code === "string" ? driver.code : "";
  if (code === "23505") return new SluiceError("CONFLICT", driver.message, { cause: err });
  if (code.startsWith("08") || code.startsWith("57P0") || code.startsWith("53") || code === "ECONNREFUSED" || code === "ECONNRESET") {
    return new SluiceError("DEPENDENCY_UNAVAILABLE", `Database unavailable: ${driver.message ?? code}`, { cause: err });
  }
  return err;
}
