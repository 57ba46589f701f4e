-- requires: vector
-- Embeddings backfill and vector search. Names follow runbook 000 so its SQL runs verbatim:
-- `shop_product_embeddings` holds one row per item (shop_id = the Sluice workspace id) with the item's
-- text, metadata, embedding status and vector; `embedding_batches` tracks provider batch jobs.

CREATE TABLE IF NOT EXISTS embedding_batches (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- NULL when one provider batch carries items of several workspaces.
  shop_id           text REFERENCES workspaces(id) ON DELETE CASCADE,
  status            text NOT NULL DEFAULT 'submitted'
                    CHECK (status IN ('submitted', 'processing', 'completed', 'failed', 'expired')),
  provider          text NOT NULL,
  model             text NOT NULL,
  dimensions        integer NOT NULL CHECK (dimensions > 0),
  total_items       integer NOT NULL CHECK (total_items >= 0),
  completed_items   integer NOT NULL DEFAULT 0 CHECK (completed_items >= 0),
  failed_items      integer NOT NULL DEFAULT 0 CHECK (failed_items >= 0),
  provider_batch_id text UNIQUE,
  input_file_id     text,
  output_file_id    text,
  error             text,
  submitted_at      timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  completed_at      timestamptz
);
-- Stuck-batch report and ai_batch_age_seconds read only the open batches.
CREATE INDEX IF NOT EXISTS embedding_batches_open_idx
  ON embedding_batches (submitted_at) WHERE status IN ('submitted', 'processing');

CREATE TABLE IF NOT EXISTS shop_product_embeddings (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The workspace id (runbook name). Deleting a workspace deletes its items (costs ~30% of bulk
  -- ingest speed on PGlite, measured; integrity wins).
  shop_id       text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  external_id   text NOT NULL,
  content       text NOT NULL,
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- sha256 of content: an unchanged hash on re-ingest leaves status and vector alone.
  content_hash  text NOT NULL,
  status        text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  retry_count   integer NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
  error_message text,
  model         text,
  dimensions    integer CHECK (dimensions > 0),
  -- Untyped so models of any size fit; the HNSW index below covers one dimension (pgvector's
  -- recommended pattern: an expression index on embedding::vector(N), partial on dimensions = N).
  embedding     vector,
  claimed_by    text,
  claimed_at    timestamptz,
  batch_id      bigint REFERENCES embedding_batches(id) ON DELETE SET NULL,
  embedded_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT shop_product_embeddings_item_key UNIQUE (shop_id, external_id),
  CONSTRAINT shop_product_embeddings_dims_check CHECK (embedding IS NULL OR vector_dims(embedding) = dimensions)
);

-- Claims: oldest pending first, across all workspaces or inside one.
CREATE INDEX IF NOT EXISTS shop_product_embeddings_pending_idx
  ON shop_product_embeddings (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS shop_product_embeddings_pending_shop_idx
  ON shop_product_embeddings (shop_id, id) WHERE status = 'pending';
-- Reclaiming rows whose worker died.
CREATE INDEX IF NOT EXISTS shop_product_embeddings_processing_idx
  ON shop_product_embeddings (claimed_at) WHERE status = 'processing';
-- Backlog per workspace and status (metrics scrape, runbook query), recent errors.
CREATE INDEX IF NOT EXISTS shop_product_embeddings_shop_status_idx
  ON shop_product_embeddings (shop_id, status);
CREATE INDEX IF NOT EXISTS shop_product_embeddings_failed_idx
  ON shop_product_embeddings (updated_at) WHERE status = 'failed';

-- The runbook's index name, so `REINDEX INDEX CONCURRENTLY idx_shop_embeddings_vector;` works.
-- Built for AI_EMBEDDING_DIMENSIONS' default (384); ensureVectorIndex() rebuilds it for another size.
CREATE INDEX IF NOT EXISTS idx_shop_embeddings_vector
  ON shop_product_embeddings USING hnsw ((embedding::vector(384)) vector_cosine_ops)
  WHERE dimensions = 384;
