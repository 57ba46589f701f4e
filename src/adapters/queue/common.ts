import type { QueueBackendKind } from "../../core/config.ts";
import type { QueueBackendHealth, QueueClass, QueueEventsClass, WorkerClass } from "../../ports/queue.ts";

/** Narrows `withBackend(...)`'s result (typed per backend) to the backend-agnostic class types above. */
export function bindClasses(classes: { Queue: unknown; Worker: unknown; QueueEvents: unknown }): {
  Queue: QueueClass;
  Worker: WorkerClass;
  QueueEvents: QueueEventsClass;
} {
  return classes as { Queue: QueueClass; Worker: WorkerClass; QueueEvents: QueueEventsClass };
}

/** Times a ping into a health record (shared by the three backends). */
export async function measureHealth(
  kind: QueueBackendKind,
  ping: () => Promise<void>,
  extra: Partial<QueueBackendHealth> = {},
): Promise<QueueBackendHealth> {
  const started = performance.now();
  try {
    await ping();
    return { kind, ok: true, latencyMs: Math.round(performance.now() - started), ...extra };
  } catch (err) {
    return {
      kind,
      ok: false,
      latencyMs: Math.round(performance.now() - started),
      error: err instanceof Error ? err.message : String(err),
      ...extra,
    };
  }
}
