// The two ONNX graphs of the test models. Vision: pixel_values → undo the processor normalisation → gray →
// 4×4 cell means + global std → linear map → embedding. Text: input_ids (+ attention_mask) → word-vector
// Gather → masked mean with a virtual neutral word → embedding. Only ops that ORT-web runs on WASM and WebGPU.
import { GraphBuilder, DT, int, ints } from './onnx-builder.ts';
import {
  BIAS_AXIS,
  CELLS,
  CONTRAST_AXIS,
  CONTRAST_CENTER,
  CONTRAST_GAIN,
  DIM,
  GRID,
  IMAGE_BIAS,
  IMAGE_SCALE,
  NEUTRAL_AXIS,
  TEXT_SCALE,
} from './vocab.ts';

export const IMAGE_SIZE = 224;

export interface VisionSpec {
  mean: [number, number, number];
  std: [number, number, number];
  /** Output tensor names, e.g. ['image_embeds'] (CLIP) or ['pooler_output'] (SigLIP). */
  outputs: string[];
  doc: string;
}

export function buildVisionModel(spec: VisionSpec): Uint8Array {
  const g = new GraphBuilder('test_vision_model');
  const cell = IMAGE_SIZE / GRID;
  const px = g.input('pixel_values', DT.FLOAT, ['batch_size', 3, IMAGE_SIZE, IMAGE_SIZE]);
  // x = p · std + mean recovers the [0, 1] intensities the processor saw.
  const std = g.floats('channel_std', [1, 3, 1, 1], spec.std);
  const mean = g.floats('channel_mean', [1, 3, 1, 1], spec.mean);
  const x = g.op('Add', [g.op('Mul', [px, std]), mean]);
  const gray = g.op('ReduceMean', [x], { axes: ints([1]), keepdims: int(0) }); // [B, 224, 224]
  // Cell means: [B, 4, 56, 4, 56] → mean over the in-cell axes → [B, 16] (row-major, row 0 = top).
  const grid = g.op('Reshape', [gray, g.int64s('grid_shape', [5], [-1, GRID, cell, GRID, cell])]);
  const cellMeans = g.op('ReduceMean', [grid], { axes: ints([2, 4]), keepdims: int(0) });
  const cells = g.op('Reshape', [cellMeans, g.int64s('cells_shape', [2], [-1, CELLS])]);
  // Global standard deviation, as mean((g − mean g)²) so it is never negative, then √(· + ε).
  const gmean = g.op('ReduceMean', [gray], { axes: ints([1, 2]), keepdims: int(1) });
  const diff = g.op('Sub', [gray, gmean]);
  const variance = g.op('ReduceMean', [g.op('Mul', [diff, diff])], { axes: ints([1, 2]), keepdims: int(1) });
  const eps = g.floats('std_eps', [], [1e-8]);
  const stdDev = g.op('Sqrt', [g.op('Add', [variance, eps])]);
  const stdCol = g.op('Reshape', [stdDev, g.int64s('std_shape', [2], [-1, 1])]);
  const features = g.op('Concat', [cells, stdCol], { axis: int(1) }); // [B, 17]
  // Linear map to the embedding, scale folded in.
  const w = new Float32Array((CELLS + 1) * DIM);
  for (let i = 0; i < CELLS; i++) w[i * DIM + 1 + i] = IMAGE_SCALE;
  w[CELLS * DIM + CONTRAST_AXIS] = IMAGE_SCALE * CONTRAST_GAIN;
  const b = new Float32Array(DIM);
  b[BIAS_AXIS] = IMAGE_SCALE * IMAGE_BIAS;
  for (let i = 0; i < CELLS; i++) b[1 + i] = -0.5 * IMAGE_SCALE;
  b[CONTRAST_AXIS] = -IMAGE_SCALE * CONTRAST_GAIN * CONTRAST_CENTER;
  const projected = g.op('MatMul', [features, g.floats('proj_w', [CELLS + 1, DIM], w)]);
  const [first, ...rest] = spec.outputs;
  if (!first) throw new Error('vision model needs an output name');
  g.op('Add', [projected, g.floats('proj_b', [DIM], b)], {}, first);
  g.output(first, DT.FLOAT, ['batch_size', DIM]);
  for (const name of rest) {
    g.op('Identity', [first], {}, name);
    g.output(name, DT.FLOAT, ['batch_size', DIM]);
  }
  return g.toBytes(spec.doc);
}

export interface TextSpec {
  /** Unscaled word vectors, one per token id (DIM floats each); special tokens must be all zero. */
  table: Float32Array[];
  /** 1 for tokens that count as words (including the unknown token), 0 for bos/eos/pad. */
  counts: number[];
  /** Longest accepted sequence: longer input fails like a real CLIP/SigLIP text model. */
  maxLength: number;
  withAttentionMask: boolean;
  outputs: string[];
  doc: string;
}

export function buildTextModel(spec: TextSpec): Uint8Array {
  const g = new GraphBuilder('test_text_model');
  const vocab = spec.table.length;
  if (spec.counts.length !== vocab) throw new Error('counts and table differ in length');
  const ids = g.input('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
  const mask = spec.withAttentionMask
    ? g.input('attention_mask', DT.INT64, ['batch_size', 'sequence_length'])
    : undefined;
  const flat = new Float32Array(vocab * DIM);
  spec.table.forEach((v, i) =>
    flat.set(
      v.map((x) => x * TEXT_SCALE),
      i * DIM,
    ),
  );
  const vectors = g.op('Gather', [g.floats('word_vectors', [vocab, DIM], flat), ids], { axis: int(0) }); // [B,S,D]
  // Zero position table sliced to the sequence length: adds nothing, but a sequence longer than maxLength
  // fails to broadcast, exactly like the position embeddings of a real text tower.
  const seqLen = g.op('Slice', [
    g.op('Shape', [ids]),
    g.int64s('dim1_start', [1], [1]),
    g.int64s('dim1_end', [1], [2]),
  ]);
  const positions = g.op('Slice', [
    g.floats('position_table', [spec.maxLength, DIM], new Float32Array(spec.maxLength * DIM)),
    g.int64s('pos_start', [1], [0]),
    seqLen,
    g.int64s('pos_axes', [1], [0]),
  ]);
  const placed = g.op('Add', [vectors, positions]);
  let weights = g.op('Gather', [g.floats('word_counts', [vocab], spec.counts), ids], { axis: int(0) }); // [B,S]
  if (mask) weights = g.op('Mul', [weights, g.op('Cast', [mask], { to: int(DT.FLOAT) })]);
  const weighted = g.op('Mul', [placed, g.op('Unsqueeze', [weights, g.int64s('last_axis', [1], [-1])])]);
  const axis1 = g.int64s('seq_axis', [1], [1]);
  const sum = g.op('ReduceSum', [weighted, axis1], { keepdims: int(0) }); // [B, D]
  const count = g.op('ReduceSum', [weights, axis1], { keepdims: int(1) }); // [B, 1]
  const neutral = new Float32Array(DIM);
  neutral[NEUTRAL_AXIS] = TEXT_SCALE;
  const numerator = g.op('Add', [sum, g.floats('virtual_neutral_word', [DIM], neutral)]);
  const denominator = g.op('Add', [count, g.floats('one', [], [1])]);
  const [first, ...rest] = spec.outputs;
  if (!first) throw new Error('text model needs an output name');
  g.op('Div', [numerator, denominator], {}, first);
  g.output(first, DT.FLOAT, ['batch_size', DIM]);
  for (const name of rest) {
    g.op('Identity', [first], {}, name);
    g.output(name, DT.FLOAT, ['batch_size', DIM]);
  }
  return g.toBytes(spec.doc);
}
