// The test-clip folder in the layout transformers.js 4.3.2 loads with CLIPTextModelWithProjection,
// CLIPVisionModelWithProjection, AutoTokenizer and AutoProcessor: config, WordPiece tokenizer with CLIP's special
// tokens, CLIPImageProcessor config, and the two towers under every file name a dtype may resolve to.
import { json, type FolderFiles } from './folder.ts';
import { buildTextModel, buildVisionModel, IMAGE_SIZE } from './towers.ts';
import { conceptVector, DIM, PUNCTUATION, vocabMeaning, vocabularyWords, type ConceptName } from './vocab.ts';

export const CLIP_MAX_LENGTH = 77;
export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
const UNK = '[UNK]';

/** Token list in id order, with the concept each token carries (null = special token, zero vector). */
function clipTokens(): { token: string; concept: ConceptName | null }[] {
  return [
    { token: BOS, concept: null },
    { token: EOS, concept: null },
    { token: UNK, concept: 'neutral' },
    { token: '##s', concept: 'neutral' },
    ...PUNCTUATION.map((p) => ({ token: p, concept: 'neutral' as const })),
    ...vocabularyWords().map(({ word, concept }) => ({ token: word, concept })),
  ];
}

/** A CLIP-style WordPiece tokenizer.json for `tokens` in id order; ids 0–2 must be BOS, EOS and [UNK]. */
export function tokenizerJson(tokens: { token: string }[]): unknown {
  const vocab = Object.fromEntries(tokens.map(({ token }, id) => [token, id]));
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const specialToken = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(BOS, 0), special(EOS, 1), special(UNK, 2)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [specialToken(BOS), { Sequence: { id: 'A', type_id: 0 } }, specialToken(EOS)],
      pair: [
        specialToken(BOS),
        { Sequence: { id: 'A', type_id: 0 } },
        specialToken(EOS),
        { Sequence: { id: 'B', type_id: 0 } },
        specialToken(EOS),
      ],
      special_tokens: {
        [BOS]: { id: BOS, ids: [0], tokens: [BOS] },
        [EOS]: { id: EOS, ids: [1], tokens: [EOS] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: UNK,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

export function clipFolder(): FolderFiles {
  const tokens = clipTokens();
  const table = tokens.map(({ concept }) => (concept ? conceptVector(concept) : new Float32Array(DIM)));
  const counts = tokens.map(({ concept }) => (concept ? 1 : 0));
  const doc = 'raddiff-web generated test model (CLIP layout); see scripts/gen-models/README.md';
  const text = buildTextModel({
    table,
    counts,
    maxLength: CLIP_MAX_LENGTH,
    withAttentionMask: true,
    outputs: ['text_embeds'],
    doc,
  });
  const vision = buildVisionModel({ mean: CLIP_MEAN, std: CLIP_STD, outputs: ['image_embeds'], doc });
  const files: FolderFiles = {};
  // fp32 is what config.json asks for; the other names hold the same fp32 graphs so an explicit
  // dtype 'q8' (wasm's default) or 'fp16' still finds a file.
  for (const suffix of ['', '_quantized', '_fp16']) {
    files[`onnx/text_model${suffix}.onnx`] = text;
    files[`onnx/vision_model${suffix}.onnx`] = vision;
  }
  const vocabSize = tokens.length;
  files['config.json'] = json({
    _name_or_path: 'raddiff-web/test-clip',
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: DIM,
    logit_scale_init_value: 2.6592,
    initializer_factor: 1.0,
    text_config: {
      model_type: 'clip_text_model',
      vocab_size: vocabSize,
      hidden_size: DIM,
      projection_dim: DIM,
      max_position_embeddings: CLIP_MAX_LENGTH,
      num_attention_heads: 1,
      num_hidden_layers: 0,
      bos_token_id: 0,
      eos_token_id: 1,
      pad_token_id: 1,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      image_size: IMAGE_SIZE,
      patch_size: IMAGE_SIZE / 4,
      num_channels: 3,
      hidden_size: DIM,
      projection_dim: DIM,
      num_attention_heads: 1,
      num_hidden_layers: 0,
    },
    transformers_version: '4.46.0',
    'transformers.js_config': { dtype: 'fp32' },
  });
  files['tokenizer.json'] = json(tokenizerJson(tokens));
  files['tokenizer_config.json'] = json({
    tokenizer_class: 'CLIPTokenizer',
    model_max_length: CLIP_MAX_LENGTH,
    bos_token: BOS,
    eos_token: EOS,
    unk_token: UNK,
    pad_token: EOS,
    do_lower_case: true,
    clean_up_tokenization_spaces: true,
    padding_side: 'right',
  });
  files['special_tokens_map.json'] = json({ bos_token: BOS, eos_token: EOS, unk_token: UNK, pad_token: EOS });
  files['preprocessor_config.json'] = json({
    image_processor_type: 'CLIPImageProcessor',
    do_convert_rgb: true,
    do_resize: true,
    size: { shortest_edge: IMAGE_SIZE },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: IMAGE_SIZE, width: IMAGE_SIZE },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: CLIP_MEAN,
    image_std: CLIP_STD,
  });
  files['vocab-meaning.json'] = json(
    vocabMeaning({
      model: 'test-clip',
      tokenizer: 'WordPiece, lower-cased, BertPreTokenizer; unknown words → [UNK] (neutral)',
      maxLength: CLIP_MAX_LENGTH,
      inputs: ['input_ids', 'attention_mask'],
      outputs: { text: 'text_embeds', vision: 'image_embeds' },
      vocabulary: Object.fromEntries(vocabularyWords().map(({ word, concept }) => [word, concept])),
    }),
  );
  return files;
}
