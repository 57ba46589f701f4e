import { z } from "zod";
import type { Queryable } from "../../../ports/store.ts";
import { defineAction } from "../define.ts";

export interface TaskRow {
  id: string;
  workspace_id: string;
  title: string;
  description: string | null;
  assignee: string | null;
  due_at: Date | null;
  status: string;
  labels: string[];
  created_by: string;
  execution_id: string | null;
  created_at: Date;
}

const args = z.object({
  title: z.string().min(1).max(500),
  description: z.string().max(20_000).optional(),
  assignee: z.string().min(1).max(200).optional(),
  due_at: z.iso.datetime({ offset: true }).optional(),
  labels: z.array(z.string().min(1).max(50)).max(20).optional(),
});

/** One task per execution (unique execution_id), so a re-run finds the task it made. */
async function insertTask(
  db: Queryable,
  workspace: string,
  executionId: string,
  actor: string,
  a: z.output<typeof args>,
): Promise<TaskRow> {
  await db.query(
    `INSERT INTO tasks (workspace_id, title, description, assignee, due_at, labels, created_by, execution_id)
     VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8) ON CONFLICT (execution_id) DO NOTHING`,
    [workspace, a.title, a.description ?? null, a.assignee ?? null, a.due_at ?? null, a.labels ?? [], actor, executionId],
  );
  const { rows } = await db.query<TaskRow>("SELECT * FROM tasks WHERE execution_id = $1", [executionId]);
  return rows[0]!;
}

/** `task.create`: a row in Sluice's own `tasks` table, the target the embedded default always has. */
export const taskCreate = defineAction({
  name: "task.create",
  description: "Create a task in Sluice's own tasks table",
  args,
  idempotent: true,
  async execute(ctx, a) {
    const task = await insertTask(ctx.store, ctx.workspace, ctx.executionId, ctx.actor, a);
    return { task_id: task.id, title: task.title, status: task.status };
  },
});
