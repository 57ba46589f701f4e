import { InvalidArgumentError, type Command } from "commander";
import { ApiError } from "../client.ts";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface CreateFlags extends ClientFlags {
  workspace: string;
  scopes?: string;
  name?: string;
}

interface CreatedKeyBody {
  id: string;
  workspace: string;
  scopes: string[];
  key: string;
}

/** Bootstrap path: no operator key yet, so open the database directly (a PostgreSQL server, or an idle data folder). */
async function createDirect(flags: CreateFlags): Promise<CreatedKeyBody> {
  // Imported here: the whole runtime loads only on this bootstrap path, not for the API commands.
  const { createSluice } = await import("../../sluice.ts");
  const sluice = await createSluice({ env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" } });
  try {
    await sluice.intake.ensureWorkspace(flags.workspace, flags.workspace);
    // The bootstrap key is the fleet's first: without --scopes it is an operator's.
    const created = await sluice.intake.createApiKey({
      workspaceId: flags.workspace,
      scopes: flags.scopes ?? "operator",
      ...(flags.name ? { name: flags.name } : {}),
    });
    await sluice.audit.record({
      actor: `cli:${process.env.USER ?? "unknown"}`,
      action: "key.create",
      workspaceId: flags.workspace,
      target: created.id,
      details: { scopes: created.scopes, direct: true },
    });
    return { id: created.id, workspace: created.workspaceId, scopes: created.scopes, key: created.secret };
  } finally {
    await sluice.close();
  }
}

async function createViaApi(flags: CreateFlags): Promise<CreatedKeyBody> {
  const client = clientFor(flags);
  const body = { workspace: flags.workspace, scopes: flags.scopes, ...(flags.name ? { name: flags.name } : {}) };
  try {
    return await client.call<CreatedKeyBody>("POST", "/api/keys", body);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "NOT_FOUND") throw err;
    await client.call("POST", "/api/workspaces", { id: flags.workspace });
    return client.call<CreatedKeyBody>("POST", "/api/keys", body);
  }
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command("keys").description("API keys: create, list, revoke");

  withClientOptions(keys.command("create"))
    .description("create an API key and print it once (without --api-key: directly in the database, to bootstrap the first operator key)")
    .requiredOption("--workspace <id>", "workspace the key acts in (created if missing)")
    .option(
      "--scopes <list>",
      "comma-separated: jobs:read,jobs:write,admin (its own workspace),operator (the fleet); default without --api-key: operator",
    )
    .option("--name <name>", "a label for people")
    .action(async (flags: CreateFlags) => {
      if (flags.apiKey && !flags.scopes) throw new InvalidArgumentError("give --scopes (jobs:read,jobs:write,admin,operator)");
      const created = flags.apiKey ? await createViaApi(flags) : await createDirect(flags);
      console.log(`Created key ${created.id} for workspace ${created.workspace} with scopes ${created.scopes.join(",")}.`);
      console.log("Store it now; it is not shown again:");
      console.log(created.key);
    });

  withClientOptions(keys.command("list"))
    .description("list API keys (never their secrets)")
    .option("--workspace <id>", "only this workspace")
    .action(async (flags: ClientFlags & { workspace?: string }) => {
      const rows = await clientFor(flags).call<Array<Record<string, unknown>>>(
        "GET",
        `/api/keys${flags.workspace ? `?workspace=${encodeURIComponent(flags.workspace)}` : ""}`,
      );
      console.log(table(rows, ["id", "workspace", "prefix", "scopes", "name", "created_at", "last_used_at"]));
    });

  withClientOptions(keys.command("revoke <id>"))
    .description("revoke an API key")
    .action(async (id: string, flags: ClientFlags) => {
      await clientFor(flags).call("DELETE", `/api/keys/${encodeURIComponent(id)}`);
      console.log(`Revoked ${id}.`);
    });
}
