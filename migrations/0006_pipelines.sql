-- Pipelines: durable multi-step runs, their memoised steps, the events runs wait for, and the
-- state of the entities runs are keyed by. Plain PostgreSQL, no extensions.

CREATE TABLE IF NOT EXISTS pipeline_runs (
  id                text PRIMARY KEY,
  pipeline          text NOT NULL,
  workspace         text NOT NULL,
  entity_key        text,
  tags              text[] NOT NULL DEFAULT '{}',
  status            text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'waiting', 'sleeping', 'completed', 'failed', 'cancelled')),
  input             jsonb NOT NULL DEFAULT 'null',
  output            jsonb,
  error             jsonb,
  failed_step       text,
  client_request_id text,
  -- The queue job running the function right now, and until when its claim holds (a crashed
  -- worker's claim is taken over by the same job's re-run, or by anyone once it expires).
  lease_owner       text,
  lease_until       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  started_at        timestamptz,
  finished_at       timestamptz
);
-- Idempotent starts, like POST /ai/jobs: one run per client_request_id per workspace and pipeline.
CREATE UNIQUE INDEX IF NOT EXISTS pipeline_runs_request_idx ON pipeline_runs (workspace, pipeline, client_request_id) WHERE client_request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS pipeline_runs_workspace_idx ON pipeline_runs (workspace, created_at DESC);
CREATE INDEX IF NOT EXISTS pipeline_runs_entity_idx ON pipeline_runs (workspace, pipeline, entity_key, created_at DESC) WHERE entity_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS pipeline_runs_tags_idx ON pipeline_runs USING gin (tags);

CREATE TABLE IF NOT EXISTS pipeline_steps (
  run_id      text NOT NULL REFERENCES pipeline_runs (id) ON DELETE CASCADE,
  name        text NOT NULL,
  -- Order of first call within the run: a replayed function calling steps in another order changed shape.
  position    integer NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('task', 'run', 'action', 'approval', 'sleep', 'wait_event', 'set_state')),
  status      text NOT NULL CHECK (status IN ('running', 'retrying', 'waiting', 'sleeping', 'completed', 'failed')),
  attempts    integer NOT NULL DEFAULT 0,
  result      jsonb,
  error       jsonb,
  -- What a waiting or sleeping step waits for: wake_at (sleep, retry backoff, event timeout),
  -- wait_event and wait_match (waitForEvent).
  wake_at     timestamptz,
  wait_event  text,
  wait_match  jsonb,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS pipeline_steps_waiting_event_idx ON pipeline_steps (wait_event) WHERE status = 'waiting' AND wait_event IS NOT NULL;

CREATE TABLE IF NOT EXISTS pipeline_events (
  id         bigserial PRIMARY KEY,
  workspace  text NOT NULL,
  name       text NOT NULL,
  payload    jsonb NOT NULL DEFAULT 'null',
  matched    integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pipeline_events_workspace_idx ON pipeline_events (workspace, name, created_at DESC);

CREATE TABLE IF NOT EXISTS entity_states (
  pipeline   text NOT NULL,
  workspace  text NOT NULL,
  entity_key text NOT NULL,
  state      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace, pipeline, entity_key)
);

CREATE TABLE IF NOT EXISTS entity_transitions (
  id           bigserial PRIMARY KEY,
  pipeline     text NOT NULL,
  workspace    text NOT NULL,
  entity_key   text NOT NULL,
  from_state   text,
  to_state     text NOT NULL,
  reason       text,
  -- `run:{id}` for a step, `key:{id}` for a manual transition.
  actor        text NOT NULL,
  bypass_rules boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS entity_transitions_entity_idx ON entity_transitions (workspace, pipeline, entity_key, id DESC);
