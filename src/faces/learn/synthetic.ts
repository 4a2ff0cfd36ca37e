import type { Labeled } from '../metrics.js';
import { normalize, Rng } from '../../util/rng.js';

/**
 * A synthetic embedding set that a learned head can improve: identities are clusters on the unit
 * sphere whose centres differ only in a few "identity" dimensions, while every image also carries
 * large shared "nuisance" variation (think lighting, pose) in other dimensions. Cosine similarity on
 * the raw vectors is dominated by the nuisance; a head that down-weights those dimensions separates
 * the identities. Deterministic for a seed.
 */
export function clusteredSet(opts: {
  identities: number;
  perIdentity: number;
  dim?: number;
  /** Dimensions that carry identity. */
  signalDims?: number;
  /** Std of the nuisance components relative to the identity signal. */
  nuisance?: number;
  /** Std of per-image noise on the identity dimensions. */
  noise?: number;
  seed?: number;
  prefix?: string;
}): Labeled[] {
  const dim = opts.dim ?? 32;
  const sig = opts.signalDims ?? 8;
  const nuisance = opts.nuisance ?? 1.2;
  const noise = opts.noise ?? 0.35;
  const rng = new Rng(opts.seed ?? 7);
  const out: Labeled[] = [];
  for (let id = 0; id < opts.identities; id++) {
    const centre = Array.from({ length: sig }, () => rng.normal());
    for (let k = 0; k < opts.perIdentity; k++) {
      const v = new Float32Array(dim);
      for (let j = 0; j < sig; j++) v[j] = (centre[j] as number) + rng.normal() * noise;
      for (let j = sig; j < dim; j++) v[j] = rng.normal() * nuisance;
      out.push({ identity: `${opts.prefix ?? 'id'}${id}`, embedding: normalize(v) });
    }
  }
  return out;
}
