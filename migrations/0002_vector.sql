-- requires: vector
-- pgvector lives in its own migration so that everything else runs on a PostgreSQL without it.
CREATE EXTENSION IF NOT EXISTS vector;
