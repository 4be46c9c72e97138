// Cache keys that capture provenance: a cached value is only reused when the model, the preprocessing (or prompt)
// version, the image content and the crop all match. Pure.

/** A crop in normalized [0,1] image coordinates; `full` means the whole image. */
export type Crop = 'full' | { x1: number; y1: number; x2: number; y2: number };

function cropKey(crop: Crop): string {
  if (crop === 'full') return 'full';
  // Four decimals: boxes are chosen on a 256 px thumbnail grid, so finer differences are noise.
  return [crop.x1, crop.y1, crop.x2, crop.y2].map((v) => v.toFixed(4)).join(',');
}

/** Key of one image embedding: (model id, preprocessing version, image SHA-256, crop). */
export function embeddingKey(
  modelId: string,
  preprocessingVersion: string,
  sha256: string,
  crop: Crop = 'full',
): string {
  return `emb|${modelId}|${preprocessingVersion}|${sha256}|${cropKey(crop)}`;
}
