-- Completion webhooks: where a workspace wants its callbacks and what it signs them with, and the
-- delivery log behind GET /api/webhooks/deliveries.

-- One row per workspace that set a default callback URL or its own signing secret. Secrets are
-- kept as given: Sluice must sign with them, so hashing is not an option (restrict DB access).
CREATE TABLE IF NOT EXISTS workspace_webhooks (
  workspace           text PRIMARY KEY,
  -- Default target of every job/run settled in the workspace; NULL: callbacks only to callback_url.
  url                 text,
  -- NULL: signed with WEBHOOK_SIGNING_SECRET.
  secret              text,
  -- After a rotation the old secret also signs (a second v1=) until previous_expires_at, so
  -- receivers can switch over without dropping a callback.
  previous_secret     text,
  previous_expires_at timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, target): at-least-once delivery from the `sluice-webhooks` queue, logged.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id               text PRIMARY KEY,
  workspace        text NOT NULL,
  -- job.completed, job.failed, run.completed, run.failed, run.cancelled
  event            text NOT NULL,
  -- job:<id> or run:<id>: what settled.
  subject          text NOT NULL,
  target           text NOT NULL,
  -- The exact JSON sent (text, not jsonb, so that a redelivery carries the very same bytes).
  body             text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error       text,
  next_attempt_at  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  -- A job that settles twice (a worker lost its lock and the job ran again) is one event.
  UNIQUE (event, subject, target)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_workspace_idx ON webhook_deliveries (workspace, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS webhook_deliveries_status_idx ON webhook_deliveries (status, created_at) WHERE status <> 'delivered';
