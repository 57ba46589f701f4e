-- Actions: the ledger that makes side effects at-most-once per idempotency key, the per-workspace
-- allowlist, and `tasks` (the target of the built-in task.create, so the embedded default has one).
-- Policy decisions and executions are audited in action_audit (0001).

-- One row per (workspace, idempotency key), written `started` BEFORE the outside call and settled
-- after it. A `started` row whose heartbeat has stopped is a call cut off by a crash: its outcome is
-- `unknown` and a person decides (an approval task) unless the action declared itself idempotent.
CREATE TABLE IF NOT EXISTS action_executions (
  id              text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  workspace_id    text NOT NULL,
  action          text NOT NULL,
  idempotency_key text NOT NULL,
  -- sha256 of the canonical JSON args: the same key with other args is refused, not merged.
  args_hash       text NOT NULL,
  args            jsonb NOT NULL,
  status          text NOT NULL CHECK (status IN ('started', 'succeeded', 'failed', 'unknown')),
  actor           text NOT NULL,
  run_id          text,
  step_name       text,
  approved_by     text,
  attempts        integer NOT NULL DEFAULT 1,
  result          jsonb,
  error_code      text,
  error_message   text,
  -- A failure that certainly had no effect (refused, rate limited): the same key may run again.
  retryable       boolean NOT NULL DEFAULT false,
  -- The approval task opened for an `unknown` outcome, and what the person decided (retry | skip).
  approval_id     text,
  resolution      text CHECK (resolution IN ('retry', 'skip', 'succeeded')),
  resolved_by     text,
  started_at      timestamptz NOT NULL DEFAULT now(),
  heartbeat_at    timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS action_executions_recent_idx ON action_executions (workspace_id, started_at DESC);
CREATE INDEX IF NOT EXISTS action_executions_open_idx ON action_executions (status) WHERE status IN ('started', 'unknown');

-- A workspace's own allowlist; without a row the workspace gets ALLOW_ACTIONS_DEFAULT.
CREATE TABLE IF NOT EXISTS workspace_action_policies (
  workspace_id    text PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
  allowed_actions text[] NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  updated_by      text NOT NULL
);

-- Sluice's own to-do list: what task.create writes (seed 001's default allowlist names it).
CREATE TABLE IF NOT EXISTS tasks (
  id           text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  workspace_id text NOT NULL,
  title        text NOT NULL,
  description  text,
  assignee     text,
  due_at       timestamptz,
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
  labels       text[] NOT NULL DEFAULT '{}',
  created_by   text NOT NULL,
  execution_id text,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tasks_workspace_idx ON tasks (workspace_id, status, created_at DESC);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_execution_idx ON tasks (execution_id);
