import { SluiceError } from "../../../core/errors.ts";
import type { Queryable } from "../../../ports/store.ts";
import type { Vector } from "./types.ts";

/**
 * Vectors travel to the database in pgvector's binary format. Measured on PGlite: the text form
 * ('[0.1,...]') parses at ~1.7k rows/s of 384 dimensions; the binary form at ~66k rows/s.
 */

/** pgvector's limit for the `vector` type. */
const MAX_VECTOR_DIMENSIONS = 16_000;
/** HNSW indexes `vector` up to 2,000 dimensions; above that Sluice indexes a `halfvec` cast (up to 4,000). */
const MAX_HNSW_VECTOR_DIMENSIONS = 2_000;
const MAX_HNSW_HALFVEC_DIMENSIONS = 4_000;

/**
 * Bytes that both store adapters bind in binary format, whatever PGlite's type registry holds.
 * node-postgres sends any Uint8Array as binary. PGlite sends bytes as binary when its serializer
 * for the parameter's type returns them: the array serializer it registers at open for the types that
 * exist then (`vector[]` on a folder migrated earlier) returns a non-array unchanged, and for a type
 * it does not know (`vector[]` when the extension was created after open) it calls `toString()`,
 * which here returns the bytes too. tests/integration/embedded-restart.test.ts covers both registries.
 */
export class BinaryParam extends Uint8Array {
  // A string by type only: PGlite's fallback must get the bytes back.
  override toString(): string {
    return this as unknown as string;
  }
}

function binaryParam(size: number): { param: BinaryParam; buffer: Buffer } {
  const param = new BinaryParam(size);
  return { param, buffer: Buffer.from(param.buffer, param.byteOffset, param.byteLength) };
}

/** Throws VALIDATION_FAILED unless `value` holds 1-16000 finite numbers (and `dimensions` of them when given). */
export function validateVector(value: unknown, dimensions?: number, field = "vector"): Vector {
  const ok = (Array.isArray(value) || value instanceof Float32Array) && value.length > 0 && value.length <= MAX_VECTOR_DIMENSIONS;
  if (!ok)
    throw new SluiceError("VALIDATION_FAILED", `${field} must be an array of 1-${MAX_VECTOR_DIMENSIONS} numbers`, { details: { field } });
  const vector = value as Vector;
  if (dimensions !== undefined && vector.length !== dimensions) {
    throw new SluiceError("VALIDATION_FAILED", `${field} has ${vector.length} dimensions, expected ${dimensions}`, {
      details: { field, dimensions: vector.length, expected: dimensions },
    });
  }
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new SluiceError("VALIDATION_FAILED", `${field}[${i}] is not a finite number`, { details: { field, index: i } });
    }
  }
  return vector;
}

function writeVector(buffer: Buffer, offset: number, vector: Vector): number {
  let p = buffer.writeInt16BE(vector.length, offset);
  p = buffer.writeInt16BE(0, p);
  for (let i = 0; i < vector.length; i++) p = buffer.writeFloatBE(vector[i] as number, p);
  return p;
}

/** One `vector` parameter (write `$n::vector` in the SQL). */
export function vectorParam(vector: Vector): BinaryParam {
  const { param, buffer } = binaryParam(4 + 4 * vector.length);
  writeVector(buffer, 0, vector);
  return param;
}

/** One `vector[]` parameter (write `$n::vector[]`); all vectors must have the same length. */
export function vectorArrayParam(vectorOid: number, vectors: readonly Vector[]): BinaryParam {
  const dims = vectors[0]?.length ?? 0;
  const element = 4 + 4 * dims;
  const { param, buffer } = binaryParam(20 + vectors.length * (4 + element));
  let p = buffer.writeInt32BE(1, 0); // one dimension
  p = buffer.writeInt32BE(0, p); // no NULLs
  p = buffer.writeUInt32BE(vectorOid, p);
  p = buffer.writeInt32BE(vectors.length, p);
  p = buffer.writeInt32BE(1, p); // lower bound
  for (const vector of vectors) {
    if (vector.length !== dims) throw new SluiceError("VALIDATION_FAILED", "vectors of one write must all have the same dimensions");
    p = buffer.writeInt32BE(element, p);
    p = writeVector(buffer, p, vector);
  }
  return param;
}

const oids = new WeakMap<Queryable, Promise<number>>();

/** The `vector` type's OID in this database (the binary array header names its element type). */
export function vectorTypeOid(db: Queryable): Promise<number> {
  let oid = oids.get(db);
  if (!oid) {
    oid = db.query<{ oid: number }>("SELECT 'vector'::regtype::oid::int8 AS oid").then(({ rows }) => rows[0]?.oid ?? 0);
    oid.catch(() => oids.delete(db));
    oids.set(db, oid);
  }
  return oid;
}

/**
 * The expression the HNSW index is built on for `dimensions`, and that search must repeat verbatim
 * for the planner to use the index: `embedding::vector(N)` (or `::halfvec(N)` above 2,000).
 */
export function indexExpression(dimensions: number): string {
  return `(embedding::${indexType(dimensions)}(${checkIndexable(dimensions)}))`;
}

/** `vector` or `halfvec`: what the index casts to. */
export function indexType(dimensions: number): "vector" | "halfvec" {
  return dimensions > MAX_HNSW_VECTOR_DIMENSIONS ? "halfvec" : "vector";
}

/** Throws VALIDATION_FAILED unless HNSW can index this many dimensions; returns it (an integer safe to inline in SQL). */
export function checkIndexable(dimensions: number): number {
  if (Number.isInteger(dimensions) && dimensions >= 1 && dimensions <= MAX_HNSW_HALFVEC_DIMENSIONS) return dimensions;
  throw new SluiceError("VALIDATION_FAILED", `HNSW indexes 1-${MAX_HNSW_HALFVEC_DIMENSIONS} dimensions, not ${dimensions}`, {
    details: { field: "dimensions" },
  });
}
