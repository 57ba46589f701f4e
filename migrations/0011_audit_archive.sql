-- Audit retention (seed 001/003 "clean old audit logs > 90 days"): rows older than the retention
-- move here instead of being deleted, so the live table stays small and nothing is lost.
-- Plain PostgreSQL, no extensions.

CREATE TABLE IF NOT EXISTS action_audit_archive (
  id           bigint PRIMARY KEY,
  created_at   timestamptz NOT NULL,
  workspace_id text,
  actor        text NOT NULL,
  action       text NOT NULL,
  target       text,
  reason       text,
  details      jsonb NOT NULL DEFAULT '{}'::jsonb,
  archived_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS action_audit_archive_created_idx ON action_audit_archive (created_at DESC);
CREATE INDEX IF NOT EXISTS action_audit_archive_workspace_idx ON action_audit_archive (workspace_id, created_at DESC);
