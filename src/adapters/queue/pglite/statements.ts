/**
 * Recognises the few statements the PGlite pool must handle itself rather than pass through:
 * transaction control, LISTEN/UNLISTEN, and BullMQ's worker-discovery queries. BullMQ prefixes its
 * command files with `--` comments, so those are stripped first.
 */
export type Statement =
  | { kind: "begin" }
  | { kind: "commit" }
  | { kind: "rollback" }
  | { kind: "listen"; channel: string }
  | { kind: "unlisten"; channel: string }
  | { kind: "set-application-name" }
  | { kind: "client-list" }
  | { kind: "other" };

const OTHER: Statement = { kind: "other" };

function stripComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/--[^\n]*/g, " ")
    .trim()
    .replace(/;\s*$/, "")
    .trim();
}

/** Postgres identifier rules: unquoted names fold to lower case; quoted ones keep case, `""` is `"`. */
function identifier(token: string): string {
  if (token.startsWith('"') && token.endsWith('"') && token.length >= 2) return token.slice(1, -1).replaceAll('""', '"');
  return token.toLowerCase();
}

const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const LISTEN = new RegExp(String.raw`^LISTEN\s+${IDENT}$`, "i");
const UNLISTEN = new RegExp(String.raw`^UNLISTEN\s+(\*|${IDENT.slice(1, -1)})$`, "i");

// BullMQ's statement texts are constants, so each is classified once.
const cache = new Map<string, Statement>();
const CACHE_LIMIT = 1_000;

export function classifyStatement(text: string): Statement {
  let statement = cache.get(text);
  if (!statement) {
    statement = classify(stripComments(text));
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, statement);
  }
  return statement;
}

function classify(sql: string): Statement {
  if (/^(BEGIN|START\s+TRANSACTION)\b/i.test(sql)) return { kind: "begin" };
  if (/^(COMMIT|END)(\s+(WORK|TRANSACTION))?$/i.test(sql)) return { kind: "commit" };
  if (/^(ROLLBACK|ABORT)(\s+(WORK|TRANSACTION))?$/i.test(sql)) return { kind: "rollback" };
  const listen = LISTEN.exec(sql);
  if (listen?.[1]) return { kind: "listen", channel: identifier(listen[1]) };
  const unlisten = UNLISTEN.exec(sql);
  if (unlisten?.[1]) return { kind: "unlisten", channel: unlisten[1] === "*" ? "*" : identifier(unlisten[1]) };
  // How BullMQ names its LISTEN connection (PostgresConnection.setListenClientName)...
  if (/^SELECT\s+set_config\(\s*'application_name'\s*,\s*\$1\s*,\s*false\s*\)$/i.test(sql)) return { kind: "set-application-name" };
  // ...and its `get_client_list` command, which counts the named sessions as workers.
  if (/^SELECT\s+application_name\s+FROM\s+pg_stat_activity\b/i.test(sql)) return { kind: "client-list" };
  return OTHER;
}
