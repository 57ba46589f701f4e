import { RetryLaterError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { RuntimeFlags } from "./flags.ts";
import { providerFlag, taskFlag } from "./names.ts";

/** What the switches steer in the provider runtime (its `isolate`/`release`). */
interface IsolatableRuntime {
  isolate(route: { provider: string }): void;
  release(route: { provider: string }): void;
}

export interface KillSwitchesOptions {
  flags: RuntimeFlags;
  runtime: IsolatableRuntime;
  /** Providers the runtime has. */
  providers: readonly string[];
  /** How long a queued job of a disabled task type waits before it is looked at again. @default 15000 */
  recheckMs?: number;
  logger: Logger;
}

export interface KillSwitches {
  /** The providers these switches steer. */
  readonly providers: readonly string[];
  /** Throws `TASK_DISABLED` (503, retry later) when `task.<type>.enabled` is false. */
  assertTaskEnabled(type: string): Promise<void>;
  /** Isolates every disabled provider in the runtime and releases those enabled again. */
  syncProviders(): Promise<void>;
  /** Runs `syncProviders` every `intervalMs` (unref'd) until `stop`. */
  start(intervalMs: number): void;
  stop(): void;
}

/**
 * Kill switches per task type and per provider over the runtime flags. A disabled provider's
 * breaker is held isolated, so the runtime goes straight to the fallback chain; the switch only
 * releases isolations it made itself, never one an operator made in code.
 */
export function createKillSwitches(options: KillSwitchesOptions): KillSwitches {
  const { flags, runtime, logger } = options;
  const recheckMs = options.recheckMs ?? 15_000;
  const isolatedByUs = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let syncing: Promise<void> | undefined;

  async function sync(): Promise<void> {
    for (const provider of options.providers) {
      const enabled = await flags.isEnabled(providerFlag(provider));
      if (!enabled && !isolatedByUs.has(provider)) {
        runtime.isolate({ provider });
        isolatedByUs.add(provider);
        logger.warn({ provider, flag: providerFlag(provider) }, "provider disabled by kill switch: calls go to fallbacks");
      } else if (enabled && isolatedByUs.has(provider)) {
        runtime.release({ provider });
        isolatedByUs.delete(provider);
        logger.info({ provider }, "provider enabled again");
      }
    }
  }

  return {
    providers: [...options.providers],
    async assertTaskEnabled(type) {
      if (await flags.isEnabled(taskFlag(type))) return;
      throw new RetryLaterError(
        "TASK_DISABLED",
        recheckMs,
        `Task type "${type}" is switched off (flag ${taskFlag(type)}); try again later`,
        {
          details: { type, flag: taskFlag(type) },
        },
      );
    },
    syncProviders() {
      syncing ??= sync().finally(() => (syncing = undefined));
      return syncing;
    },
    start(intervalMs) {
      timer ??= setInterval(() => {
        this.syncProviders().catch((err: unknown) => logger.warn({ err }, "provider kill switch sync failed"));
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
