import { Option, type Command } from "commander";
import { createClient, type Client } from "../client.ts";

export interface ClientFlags {
  url: string;
  apiKey?: string;
}

/** Adds --url and --api-key (flag > SLUICE_URL/SLUICE_API_KEY > default) to a command. */
export function withClientOptions(command: Command): Command {
  return command
    .addOption(new Option("--url <url>", "Sluice server").env("SLUICE_URL").default("http://127.0.0.1:3000"))
    .addOption(new Option("--api-key <key>", "API key (admin scope for admin commands)").env("SLUICE_API_KEY"));
}

export function clientFor(flags: ClientFlags): Client {
  return createClient({ url: flags.url, apiKey: flags.apiKey });
}
