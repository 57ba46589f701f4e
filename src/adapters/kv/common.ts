import { SluiceError } from "../../core/errors.ts";
import type { KvSetOptions } from "../../ports/kv.ts";

/** The TTL in whole seconds, or undefined for none; a bad TTL is a caller's bug, reported as such. */
export function resolveTtl(options: KvSetOptions | undefined): number | undefined {
  const ttl = options?.ttlSeconds;
  if (ttl === undefined) return undefined;
  if (!Number.isInteger(ttl) || ttl < 1) {
    throw new SluiceError("VALIDATION_FAILED", `Kv TTL must be a whole number of seconds >= 1, got ${String(ttl)}`);
  }
  return ttl;
}

/** Escapes glob metacharacters so a literal (a key prefix) can lead a pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export interface TranslatedGlob {
  /** An anchored PostgreSQL regular expression (ARE) matching what Redis's glob matches. */
  regex: string;
  /** The literal text every match starts with, for an index-friendly LIKE prefix. */
  literalPrefix: string;
}

const REGEX_SPECIAL = /[.^$|()[\]{}*+?\\]/;

function regexLiteral(c: string): string {
  return REGEX_SPECIAL.test(c) ? `\\${c}` : c;
}

// Inside brackets an ARE treats backslash + non-alphanumeric as that character; alphanumerics stay bare.
function classLiteral(c: string): string {
  return /[A-Za-z0-9]/.test(c) ? c : `\\${c}`;
}

/** Translates `[...]` starting at `start` (the "["); returns null when it never closes (then "[" is literal). */
function translateClass(glob: string, start: number): { regex: string; end: number } | null {
  let i = start + 1;
  const negate = glob[i] === "^";
  if (negate) i += 1;
  const parts: string[] = [];
  while (i < glob.length && glob[i] !== "]") {
    let c = glob[i] as string;
    if (c === "\\" && i + 1 < glob.length) c = glob[++i] as string;
    if (glob[i + 1] === "-" && i + 2 < glob.length && glob[i + 2] !== "]") {
      let to = glob[i + 2] as string;
      i += 2;
      if (to === "\\" && i + 1 < glob.length) to = glob[++i] as string;
      const [lo, hi] = c <= to ? [c, to] : [to, c];
      parts.push(`${classLiteral(lo)}-${classLiteral(hi)}`);
    } else {
      parts.push(classLiteral(c));
    }
    i += 1;
  }
  if (i >= glob.length) return null;
  // Redis's "[]" matches nothing; an empty ARE bracket is an error, so spell "nothing" explicitly.
  if (parts.length === 0) return { regex: negate ? "." : "(?!)", end: i };
  return { regex: `[${negate ? "^" : ""}${parts.join("")}]`, end: i };
}

/** Translates a Redis glob (`*`, `?`, `[abc]`, `[^a-z]`, `\x`) into an anchored PostgreSQL regex. */
export function globToRegex(glob: string): TranslatedGlob {
  let regex = "";
  let literalPrefix = "";
  let literal = true;
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i] as string;
    if (c === "*" || c === "?") {
      regex += c === "*" ? ".*" : ".";
      literal = false;
      continue;
    }
    if (c === "[") {
      const cls = translateClass(glob, i);
      if (cls) {
        regex += cls.regex;
        i = cls.end;
        literal = false;
        continue;
      }
    }
    const ch = c === "\\" && i + 1 < glob.length ? (glob[++i] as string) : c;
    regex += regexLiteral(ch);
    if (literal) literalPrefix += ch;
  }
  return { regex: `^${regex}$`, literalPrefix };
}

/** Escapes LIKE's wildcards (`%`, `_`) and its default escape character. */
export function escapeLike(literal: string): string {
  return literal.replace(/[\\%_]/g, (c) => `\\${c}`);
}
