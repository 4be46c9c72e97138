// The phantom model's text tower as an ONNX graph, and the same computation in TypeScript (for the fit's
// evaluation and the graph check). Tokens → factor rows (finding, side, zone, size, negation) → masked sums →
// side and zone distributions → outer product finding × side × zone → fixed composition matrices → embedding.
import { GraphBuilder, DT, int } from '../gen-models/onnx-builder.ts';
import {
  compositionMatrices,
  DIM,
  FACTOR_WIDTH,
  FINDING_ORDER,
  NEUTRAL_AXIS,
  NEUTRAL_WEIGHT,
  SIDES,
  SPREAD_EPSILON,
  ZONES,
} from './lexicon.ts';

const NF = FINDING_ORDER.length;
const NS = SIDES.length;
const NZ = ZONES.length;

/** Text-side factor sums of one token sequence → embedding (unnormalised), in float64. Mirrors the graph. */
export function textEmbeddingFromFactors(sums: ArrayLike<number>): Float64Array {
  const { presence, size, rows } = compositionMatrices();
  const sideTotal = sums[NF]! + sums[NF + 1]!;
  const s = [0, 1].map((i) => (sums[NF + i]! + SPREAD_EPSILON / NS) / (sideTotal + SPREAD_EPSILON));
  const zoneBase = NF + NS;
  const zoneTotal = sums[zoneBase]! + sums[zoneBase + 1]! + sums[zoneBase + 2]!;
  const z = [0, 1, 2].map((i) => (sums[zoneBase + i]! + SPREAD_EPSILON / NZ) / (zoneTotal + SPREAD_EPSILON));
  const q0 = zoneBase + NZ;
  const meanSize = sums[q0]! / (sums[q0 + 1]! + SPREAD_EPSILON);
  const sign = 1 - 2 * Math.min(sums[q0 + 2]!, 1);
  const out = new Float64Array(DIM);
  for (let fi = 0; fi < NF; fi++) {
    for (let si = 0; si < NS; si++) {
      for (let zi = 0; zi < NZ; zi++) {
        const row = (fi * NS + si) * NZ + zi;
        const w = sums[fi]! * sign * s[si]! * z[zi]!;
        if (row >= rows) throw new Error('composition row out of range');
        for (let d = 0; d < DIM; d++) {
          out[d]! += w * presence[row * DIM + d]! + w * meanSize * size[row * DIM + d]!;
        }
      }
    }
  }
  out[NEUTRAL_AXIS]! += NEUTRAL_WEIGHT;
  return out;
}

/** The text tower: `input_ids`, `attention_mask` (int64 [batch, seq]) → `text_embeds` [batch, DIM]. */
export function buildTextTower(factorTable: Float32Array[], maxLength: number, doc: string): Uint8Array {
  const g = new GraphBuilder('phantom_text_model');
  const vocab = factorTable.length;
  const ids = g.input('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', DT.INT64, ['batch_size', 'sequence_length']);
  const flat = new Float32Array(vocab * FACTOR_WIDTH);
  factorTable.forEach((row, i) => flat.set(row, i * FACTOR_WIDTH));
  const rows = g.op('Gather', [g.floats('word_factors', [vocab, FACTOR_WIDTH], flat), ids], { axis: int(0) });
  // A zero position table sliced to the sequence length: a sequence longer than maxLength fails to broadcast,
  // like a real CLIP text tower (callers must truncate).
  const seqLen = g.op('Slice', [
    g.op('Shape', [ids]),
    g.int64s('dim1_start', [1], [1]),
    g.int64s('dim1_end', [1], [2]),
  ]);
  const positions = g.op('Slice', [
    g.floats('position_table', [maxLength, FACTOR_WIDTH], new Float32Array(maxLength * FACTOR_WIDTH)),
    g.int64s('pos_start', [1], [0]),
    seqLen,
    g.int64s('pos_axes', [1], [0]),
  ]);
  const placed = g.op('Add', [rows, positions]);
  const maskF = g.op('Unsqueeze', [
    g.op('Cast', [mask], { to: int(DT.FLOAT) }),
    g.int64s('last_axis', [1], [-1]),
  ]);
  const sums = g.op('ReduceSum', [g.op('Mul', [placed, maskF]), g.int64s('seq_axis', [1], [1])], {
    keepdims: int(0),
  }); // [B, FACTOR_WIDTH]
  const slice = (name: string, start: number, end: number): string =>
    g.op('Slice', [
      sums,
      g.int64s(`${name}_start`, [1], [start]),
      g.int64s(`${name}_end`, [1], [end]),
      g.int64s(`${name}_axis`, [1], [1]),
    ]);
  const eps = (name: string, v: number): string => g.floats(name, [], [v]);
  const finding = slice('finding', 0, NF);
  const sideCounts = slice('side', NF, NF + NS);
  const zoneCounts = slice('zone', NF + NS, NF + NS + NZ);
  const q0 = NF + NS + NZ;
  const sizeSum = slice('size_sum', q0, q0 + 1);
  const sizeCount = slice('size_count', q0 + 1, q0 + 2);
  const negCount = slice('neg_count', q0 + 2, q0 + 3);
  // Distributions over sides and zones, even when no such word is present.
  const distribution = (counts: string, n: number, name: string): string => {
    const total = g.op('ReduceSum', [counts, g.int64s(`${name}_sum_axis`, [1], [1])], { keepdims: int(1) });
    return g.op('Div', [
      g.op('Add', [counts, eps(`${name}_eps_each`, SPREAD_EPSILON / n)]),
      g.op('Add', [total, eps(`${name}_eps_total`, SPREAD_EPSILON)]),
    ]);
  };
  const side = distribution(sideCounts, NS, 'side');
  const zone = distribution(zoneCounts, NZ, 'zone');
  const meanSize = g.op('Div', [sizeSum, g.op('Add', [sizeCount, eps('size_eps', SPREAD_EPSILON)])]); // [B,1]
  const sign = g.op('Sub', [
    g.floats('one', [], [1]),
    g.op('Mul', [g.floats('two', [], [2]), g.op('Min', [negCount, g.floats('one_cap', [], [1])])]),
  ]);
  const signed = g.op('Mul', [finding, sign]);
  const outer = g.op('Mul', [
    g.op('Mul', [
      g.op('Reshape', [signed, g.int64s('f_shape', [4], [-1, NF, 1, 1])]),
      g.op('Reshape', [side, g.int64s('s_shape', [4], [-1, 1, NS, 1])]),
    ]),
    g.op('Reshape', [zone, g.int64s('z_shape', [4], [-1, 1, 1, NZ])]),
  ]);
  const flatOuter = g.op('Reshape', [outer, g.int64s('outer_shape', [2], [-1, NF * NS * NZ])]);
  const { presence, size, rows: compRows } = compositionMatrices();
  const presenceEmb = g.op('MatMul', [flatOuter, g.floats('presence_map', [compRows, DIM], presence)]);
  const sizeEmb = g.op('Mul', [
    g.op('MatMul', [flatOuter, g.floats('size_map', [compRows, DIM], size)]),
    meanSize,
  ]);
  const neutral = new Float32Array(DIM);
  neutral[NEUTRAL_AXIS] = NEUTRAL_WEIGHT;
  g.op(
    'Add',
    [g.op('Add', [presenceEmb, sizeEmb]), g.floats('virtual_neutral_word', [DIM], neutral)],
    {},
    'text_embeds',
  );
  g.output('text_embeds', DT.FLOAT, ['batch_size', DIM]);
  return g.toBytes(doc);
}
