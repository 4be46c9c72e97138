// The test-siglip folder in the layout transformers.js 4.3.2 loads with SiglipTextModel, SiglipVisionModel,
// AutoTokenizer and AutoProcessor: a SentencePiece-style Unigram tokenizer (Metaspace, `</s>` as eos and pad,
// max length 64, input_ids only), SiglipImageProcessor (squash to 224, mean/std 0.5), outputs `pooler_output`.
import { json, type FolderFiles } from './folder.ts';
import { buildTextModel, buildVisionModel, IMAGE_SIZE } from './towers.ts';
import { conceptVector, DIM, PUNCTUATION, vocabMeaning, vocabularyWords, type ConceptName } from './vocab.ts';

export const SIGLIP_MAX_LENGTH = 64;
const HALF: [number, number, number] = [0.5, 0.5, 0.5];
const PAD = '<pad>';
const EOS = '</s>';
const UNK = '<unk>';
const SPACE = '\u2581';

interface Piece {
  piece: string;
  score: number;
  concept: ConceptName | null;
}

/** Unigram pieces in id order: whole words win over spelling them out (score −1 vs −10 per character). */
function siglipPieces(): Piece[] {
  const chars = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
  return [
    { piece: PAD, score: 0, concept: null },
    { piece: EOS, score: 0, concept: null },
    { piece: UNK, score: 0, concept: 'neutral' },
    { piece: SPACE, score: -10, concept: 'neutral' },
    ...PUNCTUATION.map((p) => ({ piece: p, score: -10, concept: 'neutral' as const })),
    ...chars.map((c) => ({ piece: c, score: -10, concept: 'neutral' as const })),
    ...vocabularyWords().map(({ word, concept }) => ({ piece: SPACE + word, score: -1, concept })),
  ];
}

function tokenizerJson(pieces: Piece[]): unknown {
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(PAD, 0), special(EOS, 1), special(UNK, 2)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'WhitespaceSplit' },
        { type: 'Metaspace', replacement: SPACE, prepend_scheme: 'always', split: true },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: EOS, type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: EOS, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: EOS, type_id: 0 } },
      ],
      special_tokens: { [EOS]: { id: EOS, ids: [1], tokens: [EOS] } },
    },
    decoder: { type: 'Metaspace', replacement: SPACE, prepend_scheme: 'always', split: true },
    model: {
      type: 'Unigram',
      unk_id: 2,
      byte_fallback: false,
      vocab: pieces.map(({ piece, score }) => [piece, score]),
    },
  };
}

export function siglipFolder(): FolderFiles {
  const pieces = siglipPieces();
  const table = pieces.map(({ concept }) => (concept ? conceptVector(concept) : new Float32Array(DIM)));
  const counts = pieces.map(({ concept }) => (concept ? 1 : 0));
  const doc = 'raddiff-web generated test model (SigLIP layout); see scripts/gen-models/README.md';
  const text = buildTextModel({
    table,
    counts,
    maxLength: SIGLIP_MAX_LENGTH,
    withAttentionMask: false,
    outputs: ['pooler_output'],
    doc,
  });
  const vision = buildVisionModel({ mean: HALF, std: HALF, outputs: ['pooler_output'], doc });
  const files: FolderFiles = {};
  for (const suffix of ['', '_quantized', '_fp16']) {
    files[`onnx/text_model${suffix}.onnx`] = text;
    files[`onnx/vision_model${suffix}.onnx`] = vision;
  }
  files['config.json'] = json({
    _name_or_path: 'raddiff-web/test-siglip',
    architectures: ['SiglipModel'],
    model_type: 'siglip',
    initializer_factor: 1.0,
    text_config: {
      model_type: 'siglip_text_model',
      vocab_size: pieces.length,
      hidden_size: DIM,
      max_position_embeddings: SIGLIP_MAX_LENGTH,
      num_attention_heads: 1,
      num_hidden_layers: 0,
      pad_token_id: 1,
      eos_token_id: 1,
    },
    vision_config: {
      model_type: 'siglip_vision_model',
      image_size: IMAGE_SIZE,
      patch_size: IMAGE_SIZE / 4,
      num_channels: 3,
      hidden_size: DIM,
      num_attention_heads: 1,
      num_hidden_layers: 0,
    },
    transformers_version: '4.46.0',
    'transformers.js_config': { dtype: 'fp32' },
  });
  files['tokenizer.json'] = json(tokenizerJson(pieces));
  files['tokenizer_config.json'] = json({
    tokenizer_class: 'SiglipTokenizer',
    model_max_length: SIGLIP_MAX_LENGTH,
    eos_token: EOS,
    pad_token: EOS,
    unk_token: UNK,
    do_lower_case: true,
    clean_up_tokenization_spaces: true,
    padding_side: 'right',
  });
  files['special_tokens_map.json'] = json({ eos_token: EOS, pad_token: EOS, unk_token: UNK });
  files['preprocessor_config.json'] = json({
    image_processor_type: 'SiglipImageProcessor',
    do_convert_rgb: true,
    do_resize: true,
    size: { height: IMAGE_SIZE, width: IMAGE_SIZE },
    resample: 2,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: HALF,
    image_std: HALF,
  });
  files['vocab-meaning.json'] = json(
    vocabMeaning({
      model: 'test-siglip',
      tokenizer:
        'Unigram (SentencePiece-style, ▁ word pieces), lower-cased; unknown words are spelled in neutral ' +
        'letters or <unk>. Pad with padding: "max_length" (64) like real SigLIP; padding does not change the output.',
      maxLength: SIGLIP_MAX_LENGTH,
      inputs: ['input_ids'],
      outputs: { text: 'pooler_output', vision: 'pooler_output' },
      vocabulary: Object.fromEntries(vocabularyWords().map(({ word, concept }) => [word, concept])),
    }),
  );
  return files;
}
