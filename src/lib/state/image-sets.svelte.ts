// UI state of the two image sets: accepted images, skipped files with reasons, duplicates, intake progress and
// thumbnails. Intake (hash + header check, no decode) runs in the image workers through lib/imaging; adding more
// files merges with what is there, byte-identical copies counted once.
import {
  collectFromDataTransfer,
  findConfounders,
  intakeFiles,
  type CollectedFiles,
  type DuplicateFile,
  type IntakeImage,
  type SkippedFile,
} from '../imaging/index.ts';
import { isAbort } from '../core/types.ts';

/** What a set panel shows. */
export interface SetPanelView {
  count: number;
  thumbnails: { url: string; name: string }[];
  skipped: { name: string; reason: string }[];
  duplicates: { name: string; duplicateOf: string }[];
  confounders: string[];
  ignoredSystemFiles: number;
  progress: { label: string; done: number; total: number } | null;
  error: string | null;
}

/** How many thumbnails a set panel shows; the browser decodes only these. */
const THUMBNAILS = 30;

export type SetId = 'a' | 'b';

export class ImageSet {
  readonly id: SetId;
  /** What the set is, when the app knows (e.g. a demo cohort); null for user files. */
  label = $state<string | null>(null);
  images = $state.raw<IntakeImage[]>([]);
  skipped = $state.raw<{ name: string; path: string; reason: string }[]>([]);
  duplicates = $state.raw<DuplicateFile[]>([]);
  ignoredSystemFiles = $state(0);
  progress = $state.raw<{ label: string; done: number; total: number } | null>(null);
  error = $state<string | null>(null);
  busy = $state(false);
  #thumbnails = $state.raw<{ url: string; name: string }[]>([]);
  #controller: AbortController | null = null;

  constructor(id: SetId) {
    this.id = id;
  }

  /** Files from a picker (or generated), optionally naming what the set is. */
  addFiles(files: readonly File[], label: string | null = null): Promise<void> {
    this.label = label;
    return this.#intake(files);
  }

  /** A drop: entries must be taken synchronously, inside the event handler, before anything awaits. */
  addDrop(event: DragEvent): Promise<void> {
    if (!event.dataTransfer) return Promise.resolve();
    this.label = null;
    const collected = collectFromDataTransfer(event.dataTransfer);
    return collected.then((c) => this.#intake(c));
  }

  /** Images that failed to decode later (corrupt inside an intact structure) move to the skipped list. */
  reject(failures: { sha256: string; reason: string }[]): void {
    if (!failures.length) return;
    const reasons = new Map(failures.map((f) => [f.sha256, f.reason]));
    const gone = this.images.filter((img) => reasons.has(img.sha256));
    this.images = this.images.filter((img) => !reasons.has(img.sha256));
    this.skipped = [
      ...this.skipped,
      ...gone.map((img) => ({ name: img.name, path: img.path, reason: reasons.get(img.sha256)! })),
    ];
    this.#refreshThumbnails();
  }

  clear(): void {
    this.#controller?.abort();
    this.images = [];
    this.skipped = [];
    this.duplicates = [];
    this.ignoredSystemFiles = 0;
    this.error = null;
    this.label = null;
    this.#refreshThumbnails();
  }

  /** Props for the set panel. */
  view(confounders: string[]): SetPanelView {
    return {
      count: this.images.length,
      thumbnails: this.#thumbnails,
      skipped: this.skipped,
      duplicates: this.duplicates,
      confounders,
      ignoredSystemFiles: this.ignoredSystemFiles,
      progress: this.progress,
      error: this.error,
    };
  }

  async #intake(input: readonly File[] | CollectedFiles): Promise<void> {
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    this.busy = true;
    this.error = null;
    try {
      const result = await intakeFiles(input, {
        signal: controller.signal,
        onProgress: (p) =>
          (this.progress = { label: 'Reading and hashing files', done: p.done, total: p.total }),
      });
      const known = new Map(this.images.map((img) => [img.sha256, img.path]));
      const fresh: IntakeImage[] = [];
      const moreDuplicates: DuplicateFile[] = [];
      for (const img of result.images) {
        const existing = known.get(img.sha256);
        if (existing !== undefined)
          moreDuplicates.push({ name: img.name, path: img.path, duplicateOf: existing });
        else {
          known.set(img.sha256, img.path);
          fresh.push(img);
        }
      }
      this.images = [...this.images, ...fresh];
      this.duplicates = [...this.duplicates, ...result.duplicates, ...moreDuplicates];
      this.skipped = [...this.skipped, ...result.skipped.map(toSkipped)];
      this.ignoredSystemFiles += result.ignoredSystemFiles;
      if (result.images.length === 0 && result.skipped.length > 0) {
        this.error = 'None of these files could be used; the reasons are listed below.';
      }
      this.#refreshThumbnails();
    } catch (error) {
      if (!isAbort(error))
        this.error = `Could not read these files: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      if (this.#controller === controller) {
        this.busy = false;
        this.progress = null;
        this.#controller = null;
      }
    }
  }

  #refreshThumbnails(): void {
    for (const t of this.#thumbnails) URL.revokeObjectURL(t.url);
    this.#thumbnails = this.images
      .slice(0, THUMBNAILS)
      .map((img) => ({ url: URL.createObjectURL(img.file), name: img.path }));
  }
}

function toSkipped(s: SkippedFile): { name: string; path: string; reason: string } {
  return { name: s.name, path: s.path, reason: s.reason };
}

/** Both sets, and the images that are in both (confounders). */
export class ImageSets {
  readonly a = new ImageSet('a');
  readonly b = new ImageSet('b');
  readonly confounders = $derived(findConfounders(this.a.images, this.b.images));

  /** Names, in the given set, of the images also present in the other set. */
  confoundersOf(id: SetId): string[] {
    return this.confounders.map((c) => (id === 'a' ? c.a.path : c.b.path));
  }

  /** Object URLs of images shown outside the set panels (live view), created on first use. */
  readonly #urls = new Map<string, string>();

  /** The image with this SHA-256 in either set. */
  find(sha256: string): IntakeImage | undefined {
    return this.a.images.find((i) => i.sha256 === sha256) ?? this.b.images.find((i) => i.sha256 === sha256);
  }

  /** A displayable URL of an image by SHA-256 (undefined once it left the sets). */
  imageUrl(sha256: string): string | undefined {
    const known = this.#urls.get(sha256);
    if (known) return known;
    const image = this.find(sha256);
    if (!image) return undefined;
    const url = URL.createObjectURL(image.file);
    this.#urls.set(sha256, url);
    return url;
  }

  /** Frees the URLs made by {@link imageUrl} (call when the sets change). */
  releaseUrls(): void {
    for (const url of this.#urls.values()) URL.revokeObjectURL(url);
    this.#urls.clear();
  }
}
