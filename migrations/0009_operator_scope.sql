-- Scopes split (issue 10): `admin` is now a workspace admin (its own workspace only) and the fleet
-- belongs to the new `operator` scope. Every key that held `admin` before this migration acted on
-- the fleet, so it gets `operator` too: existing deployments keep working. Revoke it key by key
-- (mint a new `admin` key without it) to narrow a workspace's administrator.
UPDATE api_keys SET scopes = array_append(scopes, 'operator')
WHERE 'admin' = ANY(scopes) AND NOT ('operator' = ANY(scopes));

-- The per-workspace job index (issue 10 item 7): `GET /ai/jobs` pages through a workspace's own
-- rows by keyset instead of scanning every tenant's jobs in the queues. Written at intake, before
-- the job is queued; `state` is `queued` until a worker settles the job (`completed`, `failed`).
-- created_ms is epoch milliseconds, the cursor's exact value.
CREATE TABLE IF NOT EXISTS job_index (
  workspace_id text NOT NULL,
  job_id       text NOT NULL,
  queue        text NOT NULL,
  type         text NOT NULL,
  state        text NOT NULL CHECK (state IN ('queued', 'completed', 'failed')),
  created_ms   bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, job_id)
);
CREATE INDEX IF NOT EXISTS job_index_newest_idx ON job_index (workspace_id, created_ms DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS job_index_state_idx ON job_index (workspace_id, state, created_ms DESC, job_id DESC);
