-- A run's own callback_url (POST /api/pipelines/{name}/runs); one approval task per attempt of a
-- step: an action whose re-run (approved after a crash) crashes again asks a person again, instead
-- of finding the step's already-decided task; and an approved `action` task authorises one execution.

-- Where the run's completion webhook goes besides the workspace's default; validated as POST /ai/jobs's.
ALTER TABLE pipeline_runs ADD COLUMN IF NOT EXISTS callback_url text;

-- The execution attempt an `action.unknown` task decides; 1 for every other task (a step.approval
-- asked again by a replayed run still finds its one task).
ALTER TABLE approval_tasks ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 1;
DROP INDEX IF EXISTS approval_tasks_step_idx;
CREATE UNIQUE INDEX IF NOT EXISTS approval_tasks_step_attempt_idx ON approval_tasks (run_id, step_name, attempt) WHERE run_id IS NOT NULL;

-- Seed 003's `INSERT INTO approval_tasks_archive SELECT * FROM approval_tasks` needs the archive's
-- columns in the live table's order with archived_at last: add attempt, then move archived_at after it.
ALTER TABLE approval_tasks_archive ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 1;
ALTER TABLE approval_tasks_archive RENAME COLUMN archived_at TO archived_at_0011;
ALTER TABLE approval_tasks_archive ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now();
UPDATE approval_tasks_archive SET archived_at = archived_at_0011;
ALTER TABLE approval_tasks_archive DROP COLUMN archived_at_0011;

-- The approval task (type `action`, POST /api/actions/{name}/execute's approval_id) this execution
-- used up: unique, so of concurrent executions with one approval exactly one is inserted.
ALTER TABLE action_executions ADD COLUMN IF NOT EXISTS consumed_approval_id text;
CREATE UNIQUE INDEX IF NOT EXISTS action_executions_consumed_approval_idx ON action_executions (consumed_approval_id) WHERE consumed_approval_id IS NOT NULL;
