/**
 * Deterministic vectors with real structure for tests and benchmarks: a mixture of Gaussian clusters,
 * normalised. Uniform random vectors have no neighbourhoods (HNSW recall ~0.1 on any engine), so
 * they measure nothing; clustered ones behave like embeddings of real text.
 */

export interface ClusteredVectorsOptions {
  dimensions: number;
  /** @default 64 */
  clusters?: number;
  /** Spread around each centre relative to the centre's scale. @default 0.5 */
  spread?: number;
  /** @default 1 */
  seed?: number;
}

/** A small fast PRNG (mulberry32): the same seed gives the same vectors on every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}

function normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum) || 1;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / norm;
  return v;
}

/** A generator of clustered unit vectors: call it for each next vector. */
export function clusteredVectors(options: ClusteredVectorsOptions): () => Float32Array {
  const { dimensions, clusters = 64, spread = 0.5, seed = 1 } = options;
  const random = seededRandom(seed);
  const normal = gaussian(random);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dimensions }, normal));
  return () => {
    const centre = centres[Math.floor(random() * clusters)] as Float32Array;
    const v = new Float32Array(dimensions);
    for (let i = 0; i < dimensions; i++) v[i] = (centre[i] as number) + normal() * spread;
    return normalise(v);
  };
}
