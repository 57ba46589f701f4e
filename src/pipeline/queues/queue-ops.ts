import type { AnyQueue } from "../../ports/queue.ts";
import type { CleanableState, ListableState, QueueCounts } from "./types.ts";

/**
 * Reads and bulk operations over one BullMQ queue that need more than one BullMQ call: counts in
 * operator terms, paging across the lists that make up "waiting", cleaning in bounded batches.
 */

/** BullMQ's lists behind each operator state, in the order jobs leave them. */
const LISTS: Record<ListableState, string[]> = {
  // On Redis a paused queue's jobs may sit in a separate `paused` list; the Postgres backend keeps
  // them in `waiting` but counts them as `paused` while the flag is set. Reading all three covers both.
  waiting: ["prioritized", "waiting", "paused"],
  active: ["active"],
  delayed: ["delayed"],
  completed: ["completed"],
  failed: ["failed"],
};

const CLEAN_TYPES: Record<CleanableState, ("prioritized" | "wait" | "paused" | "delayed" | "completed" | "failed")[]> = {
  waiting: ["prioritized", "wait", "paused"],
  delayed: ["delayed"],
  completed: ["completed"],
  failed: ["failed"],
};

type JobTypes = Parameters<AnyQueue["getJobCounts"]>;
type Jobs = Awaited<ReturnType<AnyQueue["getJobs"]>>;

export async function readCounts(queue: AnyQueue): Promise<QueueCounts> {
  const c = await queue.getJobCounts(...(["waiting", "paused", "prioritized", "active", "delayed", "completed", "failed"] as JobTypes));
  const n = (key: string) => c[key] ?? 0;
  const counts = {
    waiting: n("waiting") + n("paused") + n("prioritized"),
    active: n("active"),
    delayed: n("delayed"),
    completed: n("completed"),
    failed: n("failed"),
  };
  return { ...counts, total: counts.waiting + counts.active + counts.delayed + counts.completed + counts.failed };
}

/** One page of a state. Pages neither skip nor repeat jobs, also across the lists behind "waiting". */
export async function readPage(
  queue: AnyQueue,
  state: ListableState,
  offset: number,
  limit: number,
): Promise<{ jobs: Jobs; total: number }> {
  const types = LISTS[state] as JobTypes;
  const counts = await queue.getJobCounts(...types);
  const total = types.reduce((sum, t) => sum + (counts[t] ?? 0), 0);
  // History reads newest first; pending work in the order it will run.
  const asc = state !== "completed" && state !== "failed";
  if (types.length === 1) return { jobs: present(await queue.getJobs(types, offset, offset + limit - 1, asc)), total };
  // Several lists whose per-list counts differ by backend: page over their ids, then load the page.
  const ids: string[] = [];
  for (const type of types) ids.push(...(await queue.getRanges([type], 0, offset + limit - 1, asc)));
  const page = [...new Set(ids)].slice(offset, offset + limit);
  return { jobs: present(await Promise.all(page.map((id) => queue.getJob(id)))), total };
}

function present(jobs: (Jobs[number] | undefined | null)[]): Jobs {
  // A job can finish and be removed between listing and loading.
  return jobs.filter((j): j is Jobs[number] => j !== undefined && j !== null);
}

const CLEAN_BATCH = 1_000;

/** Removes matching jobs in batches of 1,000 until none are left or `limit` is reached; returns how many. */
export async function cleanInBatches(queue: AnyQueue, state: CleanableState, graceMs: number, limit: number | undefined): Promise<number> {
  let removed = 0;
  for (const type of CLEAN_TYPES[state]) {
    for (;;) {
      const room = limit === undefined ? CLEAN_BATCH : Math.min(CLEAN_BATCH, limit - removed);
      if (room <= 0) return removed;
      const ids = await queue.clean(graceMs, room, type);
      removed += ids.length;
      if (ids.length < room) break;
    }
  }
  return removed;
}
