-- Accounting: tokens and cost per workspace, provider and model per UTC day, and a daily token
-- budget per workspace. Plain PostgreSQL, no extensions.

-- One row per (UTC day, workspace, provider, model), upserted with increments by the workers.
-- No foreign key to workspaces: usage stays on the books after a workspace is removed.
CREATE TABLE IF NOT EXISTS ai_usage_daily (
  day           date NOT NULL,
  workspace_id  text NOT NULL,
  provider      text NOT NULL,
  model         text NOT NULL,
  input_tokens  bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cost_usd      numeric(20, 8) NOT NULL DEFAULT 0,
  requests      bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (day, workspace_id, provider, model)
);
CREATE INDEX IF NOT EXISTS ai_usage_daily_workspace_idx ON ai_usage_daily (workspace_id, day DESC);

-- Tokens (input + output) a workspace may spend per UTC day. NULL: the WORKSPACE_DAILY_TOKEN_BUDGET
-- default; 0: unlimited.
ALTER TABLE workspaces ADD COLUMN IF NOT EXISTS daily_token_budget bigint;
