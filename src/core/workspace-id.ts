import { SluiceError } from "./errors.ts";

// Ids go into keys such as ai:idempotency:{workspace}:{client_request_id}: no ':' (ambiguous
// keys) and no glob characters (pattern deletes), so letters, digits, '.', '_' and '-'.
const WORKSPACE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Throws VALIDATION_FAILED unless `id` is a well-formed workspace id. */
export function validateWorkspaceId(id: unknown): string {
  if (typeof id === "string" && WORKSPACE_ID.test(id)) return id;
  throw new SluiceError("VALIDATION_FAILED", "A workspace id is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", {
    details: { field: "workspace", value: typeof id === "string" ? id.slice(0, 100) : typeof id },
  });
}
