-- Human approvals with deadlines, and cron schedules. Column names are seed 003's, so its
-- §3.4 breach query, §5.1 archive statements and §1.3 staleness query run verbatim.

-- What each kind of approval gets: its deadline, who takes it, what happens when nobody decides.
CREATE TABLE IF NOT EXISTS approval_type_configs (
  workspace_id  text NOT NULL,
  approval_type text NOT NULL,
  sla_seconds   integer NOT NULL CHECK (sla_seconds > 0),
  -- A name (everyone's task goes to it), `least_pending:a,b,c` (the one with fewest open tasks), or NULL.
  assignee_rule text,
  on_deadline   text NOT NULL DEFAULT 'expire' CHECK (on_deadline IN ('expire', 'escalate', 'auto_approve', 'auto_reject')),
  escalate_to   text,
  -- An action (email.send, webhook.post, ...) told of each new task, with these arguments.
  notify_action text,
  notify_args   jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  updated_by    text NOT NULL,
  PRIMARY KEY (workspace_id, approval_type)
);

-- Seed 003's archive statement is `INSERT INTO approval_tasks_archive SELECT * FROM approval_tasks`:
-- the archive has the same columns in the same order (plus archived_at last), so keep them in step.
CREATE TABLE IF NOT EXISTS approval_tasks (
  id             text PRIMARY KEY,
  workspace_id   text NOT NULL,
  pipeline_stage text,
  approval_type  text NOT NULL,
  run_id         text,
  step_name      text,
  payload        jsonb NOT NULL DEFAULT '{}'::jsonb,
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'escalated')),
  assignee       text,
  due_at         timestamptz NOT NULL,
  decided_at     timestamptz,
  decided_by     text,
  reason         text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- Set once, when the deadline passes undecided (sweep) or a decision comes after it: one breach counted.
  breached_at    timestamptz,
  -- When the waiting run was told of the decision; a decided task of a run without it is told again by the sweep.
  resumed_at     timestamptz
);
-- A replayed run asks again for the same step: it must find its task, not open a second one.
CREATE UNIQUE INDEX IF NOT EXISTS approval_tasks_step_idx ON approval_tasks (run_id, step_name) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS approval_tasks_inbox_idx ON approval_tasks (workspace_id, status, due_at);
CREATE INDEX IF NOT EXISTS approval_tasks_deadline_idx ON approval_tasks (due_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS approval_tasks_decided_idx ON approval_tasks (decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS approval_tasks_unresumed_idx ON approval_tasks (decided_at) WHERE run_id IS NOT NULL AND resumed_at IS NULL AND decided_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS approval_tasks_archive (
  id             text PRIMARY KEY,
  workspace_id   text NOT NULL,
  pipeline_stage text,
  approval_type  text NOT NULL,
  run_id         text,
  step_name      text,
  payload        jsonb NOT NULL,
  status         text NOT NULL,
  assignee       text,
  due_at         timestamptz NOT NULL,
  decided_at     timestamptz,
  decided_by     text,
  reason         text,
  created_at     timestamptz NOT NULL,
  breached_at    timestamptz,
  resumed_at     timestamptz,
  archived_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS approval_tasks_archive_ws_idx ON approval_tasks_archive (workspace_id, decided_at);

-- Cron schedules: the row is the truth; BullMQ's job scheduler (same name) fires them.
CREATE TABLE IF NOT EXISTS schedules (
  name         text PRIMARY KEY,
  cron         text NOT NULL,
  tz           text NOT NULL DEFAULT 'UTC',
  target_kind  text NOT NULL CHECK (target_kind IN ('task', 'pipeline')),
  target_name  text NOT NULL,
  input        jsonb NOT NULL DEFAULT '{}'::jsonb,
  workspace_id text NOT NULL,
  source       text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'code')),
  next_run_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  updated_by   text NOT NULL
);

-- One row per firing: what it started (a job or a run) and whether that worked.
CREATE TABLE IF NOT EXISTS schedule_runs (
  id            bigserial PRIMARY KEY,
  schedule_name text NOT NULL,
  fired_for     timestamptz NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  job_id        text,
  run_id        text,
  error         text,
  UNIQUE (schedule_name, fired_for)
);
CREATE INDEX IF NOT EXISTS schedule_runs_latest_idx ON schedule_runs (schedule_name, started_at DESC);

-- Seed 003 §1.3 reads this: each schedule, its last firing, its next, and how the last one went.
CREATE OR REPLACE VIEW cron_job_status AS
SELECT s.name AS job_name,
       last.started_at AS last_run_at,
       s.next_run_at,
       COALESCE(last.status, 'scheduled') AS status,
       last.error AS last_error,
       (SELECT max(r.finished_at) FROM schedule_runs r WHERE r.schedule_name = s.name AND r.status = 'succeeded') AS last_success_at,
       s.cron,
       s.tz,
       s.workspace_id
FROM schedules s
LEFT JOIN LATERAL (
  SELECT r.started_at, r.status, r.error FROM schedule_runs r WHERE r.schedule_name = s.name ORDER BY r.started_at DESC, r.id DESC LIMIT 1
) last ON true;
