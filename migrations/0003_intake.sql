-- Intake: the key-value table behind the Kv port when there is no Redis (idempotency records,
-- cache entries), and the counter table of rate-limiter-flexible's RateLimiterPostgres.

-- COLLATE "C" so that prefix patterns (LIKE 'ai:idempotency:ws-123:%') can use the primary key index
-- whatever the database's default collation is.
CREATE TABLE IF NOT EXISTS kv_entries (
  key        text COLLATE "C" PRIMARY KEY,
  value      text NOT NULL,
  -- NULL never expires. Expired rows are invisible to every read and are swept lazily.
  expires_at timestamptz
);
CREATE INDEX IF NOT EXISTS kv_entries_expires_idx ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;

-- The exact shape RateLimiterPostgres creates for itself; made here so that no request path runs DDL.
-- expire is epoch milliseconds.
CREATE TABLE IF NOT EXISTS rate_limits (
  key    varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
