// Recognizes an image file by its bytes, never its name: PNG, JPEG and WebP are accepted; every other file gets a
// specific reason (empty, text, DICOM/TIFF/GIF/…, truncated, corrupt header, too large). Dimensions come from the
// header (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X), with the EXIF orientation the browser will apply, so oversized
// images are refused and resize targets computed without decoding. Pure (no DOM/worker globals); imports nothing.

/** Formats the product decodes. */
export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** Why a file cannot be used. `reason` is a sentence for the user; `code` is for code. */
export type IntakeIssueCode =
  | 'empty'
  | 'not-image'
  | 'unsupported-format'
  | 'too-large'
  | 'truncated'
  | 'corrupt'
  | 'decode-failed'
  | 'unreadable';

/** A file that cannot be used, and why. */
export interface IntakeIssue {
  code: IntakeIssueCode;
  reason: string;
}

/** Header facts of an accepted image. */
export interface ImageHeader {
  ok: true;
  format: ImageFormat;
  /** Stored dimensions (before EXIF orientation). */
  width: number;
  height: number;
  /**
   * EXIF orientation 1–8 that Chromium applies when decoding: from a JPEG's APP1 Exif segment or a PNG's eXIf
   * chunk before IDAT; 1 otherwise (Chromium ignores WebP's EXIF and a PNG eXIf after the image data).
   */
  orientation: number;
}

/** Result of {@link inspectImageBytes}: the header facts of an accepted image, or the reason it is refused. */
export type ImageInspection = ImageHeader | ({ ok: false } & IntakeIssue);

/** Size as displayed and decoded: orientations 5–8 turn the image a quarter, swapping width and height. */
export function orientedSize(header: Pick<ImageHeader, 'width' | 'height' | 'orientation'>): {
  width: number;
  height: number;
} {
  return header.orientation >= 5
    ? { width: header.height, height: header.width }
    : { width: header.width, height: header.height };
}

/** Largest accepted side in pixels: a 10,000² RGBA bitmap is already 400 MB once decoded. */
export const MAX_IMAGE_SIDE = 10_000;

export interface InspectOptions {
  /** Largest accepted width or height; default {@link MAX_IMAGE_SIDE}. */
  maxSide?: number;
  /**
   * `bytes` holds the whole file (default): truncation is checked too (PNG ends with IEND, JPEG has an
   * end-of-image marker after its scan, WebP's RIFF size fits). `false`: `bytes` is only the file's beginning,
   * enough for the header and the size check.
   */
  complete?: boolean;
}

const FORMAT_LABEL: Record<ImageFormat, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };

const ACCEPTED = 'accepted formats are PNG, JPEG and WebP';

/** Inspects a file's bytes: format by magic number, dimensions from the header, and (for whole files) truncation. */
export function inspectImageBytes(bytes: Uint8Array, options: InspectOptions = {}): ImageInspection {
  const maxSide = options.maxSide ?? MAX_IMAGE_SIDE;
  const complete = options.complete ?? true;
  if (bytes.length === 0) return issue('empty', 'empty file (0 bytes)');

  let header: ImageInspection;
  if (startsWith(bytes, PNG_SIGNATURE)) header = inspectPng(bytes, complete);
  else if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) header = inspectJpeg(bytes, complete);
  else if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP')
    header = inspectWebp(bytes, complete);
  else {
    const other = recognizeUnsupported(bytes);
    if (other) return issue('unsupported-format', `${other} is not supported; ${ACCEPTED}`);
    return looksLikeText(bytes)
      ? issue('not-image', 'not an image: the file contains text')
      : issue('not-image', `not an image: unrecognized content (${ACCEPTED})`);
  }
  if (!header.ok) return header;
  if (header.width > maxSide || header.height > maxSide) {
    return issue(
      'too-large',
      `${FORMAT_LABEL[header.format]} of ${header.width}×${header.height} px is too large: the limit is ` +
        `${maxSide.toLocaleString('en-US')} px per side`,
    );
  }
  return header;
}

// ---- PNG -------------------------------------------------------------------------------------------------------

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function inspectPng(bytes: Uint8Array, complete: boolean): ImageInspection {
  // Signature (8) + IHDR length (4) + type (4) + width (4) + height (4).
  if (bytes.length < 24) return issue('truncated', 'truncated PNG: the file ends inside its header');
  if (ascii(bytes, 12, 4) !== 'IHDR') return issue('corrupt', 'corrupt PNG: the first chunk is not IHDR');
  const width = u32be(bytes, 16);
  const height = u32be(bytes, 20);
  if (width === 0 || height === 0)
    return issue('corrupt', 'corrupt PNG: the header gives a zero width or height');
  // Walk the chunk chain: up to the first IDAT for the orientation (eXIf), and to IEND for truncation when the
  // whole file is here (a cut file ends inside a chunk or before IEND). Cheap: chunks are few.
  let orientation = 1;
  let seenImageData = false;
  for (let offset = 8; ;) {
    if (offset + 8 > bytes.length) {
      if (!complete && seenImageData) break;
      return issue('truncated', 'truncated PNG: the file ends before its IEND chunk');
    }
    const length = u32be(bytes, offset);
    const type = ascii(bytes, offset + 4, 4);
    const next = offset + 12 + length;
    if (type === 'IDAT' || type === 'IEND') {
      seenImageData = true;
      if (!complete) break;
    }
    if (next > bytes.length)
      return issue('truncated', `truncated PNG: the file ends inside its ${type} chunk`);
    if (type === 'eXIf' && !seenImageData && orientation === 1) {
      orientation = exifOrientation(bytes, offset + 8, offset + 8 + length);
    }
    if (type === 'IEND') break;
    offset = next;
  }
  return { ok: true, format: 'png', width, height, orientation };
}

// ---- JPEG ------------------------------------------------------------------------------------------------------

function inspectJpeg(bytes: Uint8Array, complete: boolean): ImageInspection {
  let offset = 2;
  let size: { width: number; height: number } | undefined;
  let orientation: number | undefined;
  for (;;) {
    if (offset + 4 > bytes.length) {
      if (!complete && size) break; // The header slice ended after the frame header: enough.
      return issue('truncated', 'truncated JPEG: the file ends inside its header');
    }
    if (bytes[offset] !== 0xff) return issue('corrupt', 'corrupt JPEG: a header segment is malformed');
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // Fill byte before a marker.
      continue;
    }
    // Standalone markers carry no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      offset += 2;
      continue;
    }
    if (marker === 0xd9) return issue('corrupt', 'corrupt JPEG: the image ends before any image data');
    const length = u16be(bytes, offset + 2);
    if (length < 2) return issue('corrupt', 'corrupt JPEG: a header segment is malformed');
    // The first APP1 "Exif\0\0" segment carries the orientation (as Chromium reads it).
    if (marker === 0xe1 && orientation === undefined && ascii(bytes, offset + 4, 6) === 'Exif\0\0') {
      orientation = exifOrientation(bytes, offset + 10, Math.min(bytes.length, offset + 2 + length));
    }
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (offset + 9 > bytes.length)
        return issue('truncated', 'truncated JPEG: the file ends inside its header');
      size = { height: u16be(bytes, offset + 5), width: u16be(bytes, offset + 7) };
      if (size.width === 0 || size.height === 0) {
        return issue('corrupt', 'corrupt JPEG: the frame header gives a zero width or height');
      }
    }
    if (marker === 0xda) {
      if (!size) return issue('corrupt', 'corrupt JPEG: no frame header (SOF) before the image data');
      const scanStart = offset + 2 + length;
      if (complete && !hasEndOfImage(bytes, scanStart)) {
        return issue('truncated', 'truncated JPEG: the file ends before its end-of-image marker');
      }
      break;
    }
    offset += 2 + length;
  }
  return { ok: true, format: 'jpeg', ...size, orientation: orientation ?? 1 };
}

/** Entropy-coded data escapes 0xFF as FF 00, so FF D9 after the first scan is the end-of-image marker. */
function hasEndOfImage(bytes: Uint8Array, from: number): boolean {
  for (let i = bytes.indexOf(0xff, from); i >= 0 && i + 1 < bytes.length; i = bytes.indexOf(0xff, i + 1)) {
    if (bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

// ---- WebP ------------------------------------------------------------------------------------------------------

function inspectWebp(bytes: Uint8Array, complete: boolean): ImageInspection {
  if (complete) {
    const declared = u32le(bytes, 4) + 8;
    if (bytes.length < declared) {
      return issue(
        'truncated',
        `truncated WebP: the header declares ${declared} bytes, the file has ${bytes.length}`,
      );
    }
  }
  if (bytes.length < 30) return issue('truncated', 'truncated WebP: the file ends inside its header');
  const chunk = ascii(bytes, 12, 4);
  const data = 20;
  let width: number;
  let height: number;
  if (chunk === 'VP8 ') {
    // Lossy key frame: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
    if (bytes[data + 3] !== 0x9d || bytes[data + 4] !== 0x01 || bytes[data + 5] !== 0x2a) {
      return issue('corrupt', 'corrupt WebP: the VP8 start code is missing');
    }
    width = u16le(bytes, data + 6) & 0x3fff;
    height = u16le(bytes, data + 8) & 0x3fff;
  } else if (chunk === 'VP8L') {
    // Lossless: signature 0x2F, then width−1 and height−1 in 14 bits each.
    if (bytes[data] !== 0x2f) return issue('corrupt', 'corrupt WebP: the VP8L signature is missing');
    const bits = u32le(bytes, data + 1);
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else if (chunk === 'VP8X') {
    // Extended: flags (1) + reserved (3), then canvas width−1 and height−1 in 24 bits each.
    width = u24le(bytes, data + 4) + 1;
    height = u24le(bytes, data + 7) + 1;
  } else {
    return issue('corrupt', `corrupt WebP: unknown first chunk "${chunk.trim()}"`);
  }
  if (width === 0 || height === 0)
    return issue('corrupt', 'corrupt WebP: the header gives a zero width or height');
  return { ok: true, format: 'webp', width, height, orientation: 1 };
}

// ---- EXIF --------------------------------------------------------------------------------------------------------

/**
 * Orientation tag (0x0112, SHORT, count 1) of IFD0 in the TIFF structure at bytes[start, end); 1 when absent or
 * out of range, as Chromium treats it.
 */
export function exifOrientation(bytes: Uint8Array, start: number, end: number): number {
  const order = ascii(bytes, start, 2);
  if (order !== 'II' && order !== 'MM') return 1;
  const little = order === 'II';
  const u16 = (o: number) => (o + 2 <= end ? (little ? u16le(bytes, o) : u16be(bytes, o)) : -1);
  const u32 = (o: number) => (o + 4 <= end ? (little ? u32le(bytes, o) : u32be(bytes, o)) : -1);
  if (u16(start + 2) !== 42) return 1;
  const ifd = start + u32(start + 4);
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return 1;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return u16(entry + 2) === 3 && u32(entry + 4) === 1 && value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

// ---- Everything else -------------------------------------------------------------------------------------------

/** Names formats that users of a radiology tool plausibly drop, so the message says what the file is. */
function recognizeUnsupported(bytes: Uint8Array): string | undefined {
  if (ascii(bytes, 128, 4) === 'DICM') return 'DICOM';
  const head4 = ascii(bytes, 0, 4);
  if (head4 === 'II*\0' || head4 === 'MM\0*' || head4 === 'II+\0' || head4 === 'MM\0+') return 'TIFF';
  if (head4 === 'GIF8') return 'GIF';
  if (head4 === '%PDF') return 'PDF';
  if (head4 === 'PK\x03\x04') return 'A ZIP archive';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'A gzip archive';
  if (head4 === 'NRRD') return 'NRRD';
  if (bytes.length >= 348 && (u32le(bytes, 0) === 348 || u32be(bytes, 0) === 348)) {
    const magic = ascii(bytes, 344, 4);
    if (magic === 'n+1\0' || magic === 'ni1\0') return 'NIfTI';
  }
  if (bytes[0] === 0x42 && bytes[1] === 0x4d && bytes.length >= 18 && BMP_DIB_SIZES.has(u32le(bytes, 14)))
    return 'BMP';
  if (
    startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) ||
    startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])
  ) {
    return 'JPEG 2000';
  }
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20]))
    return 'JPEG XL';
  if (ascii(bytes, 4, 4) === 'ftyp') {
    const brand = ascii(bytes, 8, 4);
    if (brand === 'avif' || brand === 'avis') return 'AVIF';
    if (['heic', 'heix', 'hevc', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) return 'HEIC/HEIF';
  }
  const text = looksLikeText(bytes) ? ascii(bytes, 0, 512).toLowerCase() : '';
  if (text.includes('<svg')) return 'SVG';
  return undefined;
}

const BMP_DIB_SIZES = new Set([12, 40, 52, 56, 64, 108, 124]);

/** Printable ASCII/UTF-8 and common whitespace in the first 512 bytes, no control bytes. */
function looksLikeText(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length, 512);
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) return false;
    if (b === 0x7f) return false;
  }
  return true;
}

// ---- Byte helpers ----------------------------------------------------------------------------------------------

function issue(code: IntakeIssueCode, reason: string): ImageInspection {
  return { ok: false, code, reason };
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/** Bytes as Latin-1 characters; out-of-range bytes read as NUL so comparisons simply fail. */
function ascii(bytes: Uint8Array, offset: number, length: number): string {
  let s = '';
  for (let i = offset; i < offset + length; i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}

function u16be(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
}

function u32be(b: Uint8Array, o: number): number {
  return (((b[o] ?? 0) << 24) | ((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0)) >>> 0;
}

function u16le(b: Uint8Array, o: number): number {
  return (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
}

function u24le(b: Uint8Array, o: number): number {
  return (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16);
}

function u32le(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0;
}
