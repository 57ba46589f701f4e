-- Core tables: workspaces, API keys, audit trail, runtime flags. Plain PostgreSQL, no extensions.

CREATE TABLE IF NOT EXISTS workspaces (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  rate_limit_per_minute integer,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_keys (
  id           text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  -- sha256 of the secret; the secret itself is shown once at creation and never stored.
  key_hash     text NOT NULL UNIQUE,
  prefix       text NOT NULL,
  scopes       text[] NOT NULL,
  name         text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_workspace_idx ON api_keys (workspace_id);

-- Who did what, when and why: admin actions, approvals, kill switches.
CREATE TABLE IF NOT EXISTS action_audit (
  id           bigserial PRIMARY KEY,
  created_at   timestamptz NOT NULL DEFAULT now(),
  workspace_id text,
  actor        text NOT NULL,
  action       text NOT NULL,
  target       text,
  reason       text,
  details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS action_audit_created_idx ON action_audit (created_at DESC);
CREATE INDEX IF NOT EXISTS action_audit_workspace_idx ON action_audit (workspace_id, created_at DESC);

-- Runtime switches that act without a redeploy (kill switches); absent means the env default.
CREATE TABLE IF NOT EXISTS runtime_flags (
  name        text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL
);
