import { readFileSync } from "node:fs";
import { SLUICE_BIN, type CliResult } from "./cli.ts";
import { spawnTracked, stopTracked } from "./processes.ts";

const RUNBOOK = new URL("../../docs/runbook.md", import.meta.url);

/**
 * The one backticked command line in docs/runbook.md's section `heading` (up to the next heading)
 * that starts with `prefix`: tests run what the runbook says, so a line edited there is tested as edited.
 */
export function runbookLine(heading: string, prefix: string): string {
  const text = readFileSync(RUNBOOK, "utf8");
  const start = text.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`docs/runbook.md has no section "${heading}"`);
  const next = text.slice(start + 1).search(/\n#{1,4} /);
  const section = next < 0 ? text.slice(start) : text.slice(start, start + 1 + next);
  const found = [...section.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "").filter((line) => line.startsWith(prefix));
  if (found.length !== 1) throw new Error(`"${heading}" has ${found.length} lines starting with "${prefix}": ${JSON.stringify(found)}`);
  return found[0]!;
}

/**
 * Runs a runbook `sluice …` line in bash, as an operator pastes it (bash does the quoting), with
 * `sluice` being this tree's compiled CLI and each `<placeholder>` replaced by its value.
 */
export async function runRunbookLine(line: string, values: Record<string, string>, env: Record<string, string>): Promise<CliResult> {
  let filled = line;
  for (const [name, value] of Object.entries(values)) filled = filled.replaceAll(`<${name}>`, value);
  if (/<[a-z ]+>/.test(filled)) throw new Error(`a placeholder is left in: ${filled}`);
  const script = `sluice() { "${process.execPath}" "${SLUICE_BIN}" "$@"; }\n${filled}`;
  const child = spawnTracked("bash", ["-c", script], { env: { ...process.env, LOG_LEVEL: "warn", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => void stopTracked(child, "SIGKILL"), 60_000);
  // 'close', not 'exit': the last of stdout may still be on its way when the process has exited.
  await new Promise((resolve) => child.once("close", resolve));
  clearTimeout(timer);
  return { status: child.exitCode, stdout, stderr };
}
