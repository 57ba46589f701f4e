import { spawn } from "node:child_process";
import type { Command } from "commander";
import type { ResultSet, SqlTarget } from "../../sql-console.ts";

/** psql's aligned format: ` a | b `, a rule, the rows, `(n rows)`; a statement without rows prints its tag. */
function formatResult(result: ResultSet): string {
  if (result.fields.length === 0) return [result.command, result.rowCount ?? ""].join(" ").trim();
  const names = result.fields.map((f) => f.name);
  // Every value arrives as PostgreSQL's text (runSql sets no type parsers); null prints empty, as psql does.
  const cell = (v: unknown) => (typeof v === "string" ? v : v === null || v === undefined ? "" : JSON.stringify(v));
  const widths = names.map((n) => Math.max(n.length, ...result.rows.map((r) => cell(r[n]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => ` ${v.padEnd(widths[i] ?? 0)} `)
      .join("|")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w + 2)).join("+");
  const count = `(${result.rows.length} ${result.rows.length === 1 ? "row" : "rows"})`;
  return [line(names), rule, ...result.rows.map((r) => line(names.map((n) => cell(r[n])))), count].join("\n");
}

function openPsql(target: SqlTarget): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn("psql", [target.url], {
      stdio: "inherit",
      env: { ...process.env, ...(target.password ? { PGPASSWORD: target.password } : {}) },
    });
    child.once("error", (err: NodeJS.ErrnoException) =>
      fail(err.code === "ENOENT" ? new Error('psql is not installed here: install the PostgreSQL client, or run sluice sql -c "…"') : err),
    );
    child.once("exit", (code) => done(code ?? 1));
  });
}

/** `sluice sql`: the seeds' `psql -c "…"` on whatever engine this Sluice is configured with. */
export function registerSqlCommands(program: Command): void {
  program
    .command("sql")
    .description(
      "run SQL on the configured engine (DATABASE_URL; embedded: the running Sluice's SLUICE_SQL_PORT socket, or the data folder when Sluice is stopped); without -c, open psql there",
    )
    // The runbook's lines write `sluice sql "SELECT …"` as often as `-c "…"`: both must run the SQL.
    .argument("[statement]", 'the SQL to run, as -c gives it (sluice sql "SELECT …")')
    .option("-c, --command <sql>", "SQL to run (several statements separated by ;), results printed as psql prints them")
    .option("--json", "print each result's rows as a JSON array, one line per statement")
    .action(async (statement: string | undefined, options: { command?: string; json?: boolean }, command: Command) => {
      if (statement !== undefined && options.command !== undefined)
        command.error('error: give the SQL once: either -c "…" or as the argument');
      const flags = { ...options, command: options.command ?? statement };
      const [{ loadConfig }, { openSqlTarget, runSql }] = await Promise.all([
        import("../../core/config.ts"),
        import("../../sql-console.ts"),
      ]);
      const target = await openSqlTarget(loadConfig());
      try {
        if (flags.command === undefined) {
          process.exitCode = await openPsql(target);
          return;
        }
        const results = await runSql(target, flags.command);
        const printed = results.map((r) => (flags.json ? JSON.stringify(r.rows) : formatResult(r)));
        console.log(printed.join(flags.json ? "\n" : "\n\n"));
      } finally {
        await target.close();
      }
    });
}
