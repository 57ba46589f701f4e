import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { EMBEDDINGS_BACKFILL_FLAG, type RuntimeFlags } from "../flags/index.ts";

/** The log line runbook 000 greps for (`grep "backfill.*disabled"`): never reword it. */
const BACKFILL_DISABLED_MESSAGE = "backfill disabled";
const BACKFILL_ENABLED_MESSAGE = "backfill enabled";

export interface BackfillSwitchOptions {
  flags: Pick<RuntimeFlags, "isEnabled" | "describe">;
  logger: Logger;
  /** How often the flag is re-read while work runs. @default 1000 */
  intervalMs?: number;
  /** Called when the switch goes back on (not at start): queue the pending work again. */
  onEnabled?: () => Promise<void>;
}

export interface BackfillSwitch {
  /** Re-reads the flag (cached by the flags for FLAGS_CACHE_MS) and acts on a change; true when on. */
  check(): Promise<boolean>;
  /** Aborted the moment the switch is seen off; a fresh signal once it is on again. */
  readonly signal: AbortSignal;
  start(): Promise<void>;
  stop(): void;
}

/**
 * The backfill kill switch: `embeddings.backfill.enabled` (env default OPENAI_EMBEDDING_BACKFILL_ENABLED,
 * runtime override through `PUT /api/flags/...`). Seen off, it logs `backfill disabled` once and
 * aborts `signal`, which makes the worker release the chunk it is embedding back to `pending`.
 */
export function createBackfillSwitch(options: BackfillSwitchOptions): BackfillSwitch {
  const { flags, logger } = options;
  let enabled: boolean | undefined;
  let controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<boolean> | undefined;

  async function source(): Promise<string> {
    return flags.describe(EMBEDDINGS_BACKFILL_FLAG).then(
      (state) => state.source,
      () => "unknown",
    );
  }

  async function read(): Promise<boolean> {
    const on = await flags.isEnabled(EMBEDDINGS_BACKFILL_FLAG);
    if (on === enabled) return on;
    const first = enabled === undefined;
    enabled = on;
    if (!on) {
      logger.warn({ flag: EMBEDDINGS_BACKFILL_FLAG, source: await source() }, BACKFILL_DISABLED_MESSAGE);
      controller.abort(new SluiceError("NOT_READY", BACKFILL_DISABLED_MESSAGE));
      return on;
    }
    if (controller.signal.aborted) controller = new AbortController();
    logger.info({ flag: EMBEDDINGS_BACKFILL_FLAG, source: await source() }, BACKFILL_ENABLED_MESSAGE);
    if (!first)
      await options.onEnabled?.().catch((err: unknown) => logger.warn({ err }, "could not queue the backfill after it was enabled"));
    return on;
  }

  const check = (): Promise<boolean> => (checking ??= read().finally(() => (checking = undefined)));

  return {
    check,
    get signal() {
      return controller.signal;
    },
    async start() {
      await check();
      timer ??= setInterval(() => {
        check().catch((err: unknown) => logger.warn({ err }, "backfill switch could not be read"));
      }, options.intervalMs ?? 1_000);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
