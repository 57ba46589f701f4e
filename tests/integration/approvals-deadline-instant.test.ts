import { describe, expect, it } from "vitest";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import * as sql from "../../src/pipeline/approvals/sql.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

/**
 * The deadline sweep takes a task only once its deadline is past, never at its exact instant: a
 * task decided then has `decided_at = due_at`, which counts as no breach (seed 003 §3.4's SQL says
 * `decided_at > due_at`), so `hitl_sla_breached_total` and that query missed a late decision. PGlite's
 * `now()` moves in milliseconds, as a `due_at` set from `Date.now()` does: CI met that instant.
 */
describe("the approvals deadline sweep", () => {
  it("does not take a task at its deadline's exact instant, and takes it once that instant is past", async () => {
    const store = await createPgliteStore({ dataDir: testPgliteDataDir({ migrated: true }) });
    try {
      const task = { workspaceId: "ws-instant", pipelineStage: "E5", approvalType: "t-expire", runId: null, stepName: null };
      const claimed = await store.transaction(async (tx) => {
        // now() is the transaction's start, fixed within it: a deadline equal to it is this sweep's instant.
        const { rows } = await tx.query<{ now: Date }>("SELECT now() AS now");
        const now = rows[0]!.now;
        await sql.insertTask(tx, { ...task, id: "at-deadline", payload: {}, assignee: null, dueAt: now, attempt: 1 });
        await sql.insertTask(tx, {
          ...task,
          id: "past-deadline",
          payload: {},
          assignee: null,
          dueAt: new Date(now.getTime() - 1),
          attempt: 1,
        });
        return (await sql.claimOverdue(tx, 10)).map((r) => r.id);
      });
      expect(claimed).toEqual(["past-deadline"]);
    } finally {
      await store.close();
    }
  });
});
