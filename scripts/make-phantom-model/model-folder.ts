// The phantom-clip folder in the transformers.js 4.3.2 CLIP layout (same as scripts/gen-models' test-clip):
// config.json, the WordPiece tokenizer (gen-models' tokenizer.json writer), CLIPImageProcessor config, a
// model-card.json saying what the model is, and both towers under every file name a dtype may resolve to.
import { json, type FolderFiles } from '../gen-models/folder.ts';
import { tokenizerJson, CLIP_MAX_LENGTH } from '../gen-models/clip.ts';
import { PUNCTUATION } from '../gen-models/vocab.ts';
import type { Preprocessing } from '../../src/lib/core/types.ts';
import { factorRow, FACTOR_WIDTH, vocabularyWords, type WordMeaning } from './lexicon.ts';

export const MODEL_ID = 'phantom-clip';
const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
const UNK = '[UNK]';

/** Tokens in id order with their meaning (null: special token or neutral piece, all-zero factors). */
export function phantomTokens(): { token: string; meaning: WordMeaning | null }[] {
  return [
    { token: BOS, meaning: null },
    { token: EOS, meaning: null },
    { token: UNK, meaning: null },
    { token: '##s', meaning: null },
    ...PUNCTUATION.map((p) => ({ token: p, meaning: null })),
    ...vocabularyWords().map(({ word, meaning }) => ({ token: word, meaning })),
  ];
}

/** Factor rows of the text tower, one per token id. */
export function factorTable(): Float32Array[] {
  return phantomTokens().map(({ meaning }) =>
    meaning ? factorRow(meaning) : new Float32Array(FACTOR_WIDTH),
  );
}

/** tokenizer.json of the folder (a CLIP-style WordPiece over the lexicon). */
export const phantomTokenizerJson = (): unknown => tokenizerJson(phantomTokens());

/** tokenizer_config.json of the folder. */
export function tokenizerConfig(): Record<string, unknown> {
  return {
    tokenizer_class: 'CLIPTokenizer',
    model_max_length: CLIP_MAX_LENGTH,
    bos_token: BOS,
    eos_token: EOS,
    unk_token: UNK,
    pad_token: EOS,
    do_lower_case: true,
    clean_up_tokenization_spaces: true,
    padding_side: 'right',
  };
}

export interface FolderInput {
  text: Uint8Array;
  vision: Uint8Array;
  dim: number;
  preprocessing: Preprocessing;
  /** Written to model-card.json: what the model is, how it was fitted, its held-out scores. */
  card: Record<string, unknown>;
}

/** Every file of public/models/phantom-clip/. */
export function phantomFolder(input: FolderInput): FolderFiles {
  const { text, vision, dim, preprocessing: p } = input;
  const tokens = phantomTokens();
  const files: FolderFiles = {};
  // config.json asks for fp32; the other names are byte-identical copies so an explicit dtype 'q8' (wasm's
  // default) or 'fp16' still finds a file (nothing is really quantised).
  for (const suffix of ['', '_quantized', '_fp16']) {
    files[`onnx/text_model${suffix}.onnx`] = text;
    files[`onnx/vision_model${suffix}.onnx`] = vision;
  }
  files['config.json'] = json({
    _name_or_path: `raddiff-web/${MODEL_ID}`,
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: dim,
    logit_scale_init_value: 2.6592,
    initializer_factor: 1.0,
    text_config: {
      model_type: 'clip_text_model',
      vocab_size: tokens.length,
      hidden_size: dim,
      projection_dim: dim,
      max_position_embeddings: CLIP_MAX_LENGTH,
      num_attention_heads: 1,
      num_hidden_layers: 0,
      bos_token_id: 0,
      eos_token_id: 1,
      pad_token_id: 1,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      image_size: p.size,
      patch_size: p.size / 8,
      num_channels: 3,
      hidden_size: dim,
      projection_dim: dim,
      num_attention_heads: 1,
      num_hidden_layers: 0,
    },
    transformers_version: '4.46.0',
    'transformers.js_config': { dtype: 'fp32' },
  });
  files['tokenizer.json'] = json(phantomTokenizerJson());
  files['tokenizer_config.json'] = json(tokenizerConfig());
  files['special_tokens_map.json'] = json({ bos_token: BOS, eos_token: EOS, unk_token: UNK, pad_token: EOS });
  // Only used by callers that run transformers.js' own processor (the app preprocesses itself, per the manifest):
  // for square images this resize + crop is the identity at `size`.
  files['preprocessor_config.json'] = json({
    image_processor_type: 'CLIPImageProcessor',
    do_convert_rgb: true,
    do_resize: true,
    size: { shortest_edge: p.size },
    resample: 2,
    do_center_crop: true,
    crop_size: { height: p.size, width: p.size },
    do_rescale: true,
    rescale_factor: p.rescale,
    do_normalize: true,
    image_mean: p.mean,
    image_std: p.std,
  });
  files['model-card.json'] = json(input.card);
  return files;
}
