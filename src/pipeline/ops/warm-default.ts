import { readFileSync } from "node:fs";
import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";

const item = z.object({ type: z.string().min(1).max(100), input: z.unknown() });

/**
 * Seed 004 §3.3 runs `POST /api/cache/warm` with no body after a deploy: the set to warm is the
 * operator's file `CACHE_WARM_DEFAULT` (the same JSON `sluice cache warm <file>` takes), read at
 * each request so an edit needs no restart.
 */
export function loadWarmDefault(path: string | undefined, maxItems: number): Array<{ type: string; input: unknown }> {
  if (!path) {
    throw new SluiceError(
      "VALIDATION_FAILED",
      "No items to warm: send [{type, input}, …] or {items: […]}, or set CACHE_WARM_DEFAULT to a JSON file of them for a warm-up without a body",
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new SluiceError("CONFLICT", `CACHE_WARM_DEFAULT (${path}) cannot be read as JSON: ${(err as Error).message}`);
  }
  const items = z
    .array(item)
    .max(maxItems)
    .safeParse(Array.isArray(parsed) ? parsed : (parsed as { items?: unknown } | null)?.items);
  if (!items.success)
    throw new SluiceError("CONFLICT", `CACHE_WARM_DEFAULT (${path}) must hold [{"type": …, "input": …}, …] (at most ${maxItems})`);
  return items.data;
}
