import type { Sluice } from "../../sluice.ts";

export const DEV_WORKSPACE = "dev";
const DEV_KEY_NAME = "sluice dev";

/**
 * The embedded dev instance gets a `dev` workspace and a fresh operator key each start; the previous
 * run's dev key is revoked so keys don't pile up.
 */
export async function devAdminKey(sluice: Sluice): Promise<string> {
  await sluice.intake.ensureWorkspace(DEV_WORKSPACE, "Development");
  for (const key of await sluice.intake.listApiKeys(DEV_WORKSPACE)) {
    if (key.name === DEV_KEY_NAME) await sluice.intake.revokeApiKey(key.id);
  }
  const created = await sluice.intake.createApiKey({ workspaceId: DEV_WORKSPACE, scopes: ["jobs:read", "jobs:write", "admin", "operator"], name: DEV_KEY_NAME });
  return created.secret;
}
