// Turns what the user handed over (a drop with whole folders, a multi-file input, a folder picker) into a flat list
// of files with their relative paths. Hidden and system files are dropped here and only counted. No decoding, no
// workers; depends on the DOM File/entry APIs only (structurally, so tests can pass fake folder trees).
import { isSystemPath } from './intake-report.ts';

/** A file and the path it was found at, relative to what the user dropped or picked (e.g. `cxr/a/001.png`). */
export interface IntakeEntry {
  file: File;
  path: string;
}

/** A file that was found but could not even be listed (permission, removed meanwhile). */
export interface UnlistableFile {
  name: string;
  path: string;
  reason: string;
}

/** Files ready for intake, plus what enumeration set aside. */
export interface CollectedFiles {
  entries: IntakeEntry[];
  /** Hidden/system files skipped silently (.DS_Store, Thumbs.db, ._*); a hidden folder counts once. */
  ignoredSystemFiles: number;
  unlistable: UnlistableFile[];
}

/** The part of FileSystemEntry this module uses; DOM entries fit it, and so do test fakes. */
export interface EntryLike {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly name: string;
  readonly fullPath: string;
}

export interface FileEntryLike extends EntryLike {
  file(success: (file: File) => void, error?: (error: DOMException) => void): void;
}

export interface DirectoryEntryLike extends EntryLike {
  createReader(): {
    readEntries(success: (entries: EntryLike[]) => void, error?: (error: DOMException) => void): void;
  };
}

/** From `<input type=file multiple>` or a `webkitdirectory` folder picker (whose files carry webkitRelativePath). */
export function collectFromFileList(files: FileList | readonly File[]): CollectedFiles {
  const collected: CollectedFiles = { entries: [], ignoredSystemFiles: 0, unlistable: [] };
  for (const file of Array.from(files)) add(collected, file, file.webkitRelativePath || file.name);
  return collected;
}

/**
 * From a drop. Call it synchronously inside the `drop` handler: the browser empties `dataTransfer.items` when the
 * handler returns, so the entries are taken before the first await; folders are then walked asynchronously.
 */
export function collectFromDataTransfer(dataTransfer: DataTransfer): Promise<CollectedFiles> {
  const entries: EntryLike[] = [];
  const plainFiles: File[] = [];
  for (const item of Array.from(dataTransfer.items)) {
    if (item.kind !== 'file') continue; // Dragged text or links.
    const entry = item.webkitGetAsEntry();
    if (entry) entries.push(entry);
    else {
      // Browsers without the entries API still give the files (not folders).
      const file = item.getAsFile();
      if (file) plainFiles.push(file);
    }
  }
  if (entries.length === 0 && plainFiles.length === 0 && dataTransfer.files.length > 0) {
    plainFiles.push(...Array.from(dataTransfer.files));
  }
  return collectFromEntries(entries).then((collected) => {
    for (const file of plainFiles) add(collected, file, file.name);
    return collected;
  });
}

/** Walks dropped entries, recursing into folders. Paths come from `fullPath` without its leading '/'. */
export async function collectFromEntries(entries: readonly EntryLike[]): Promise<CollectedFiles> {
  const collected: CollectedFiles = { entries: [], ignoredSystemFiles: 0, unlistable: [] };
  await Promise.all(entries.map((entry) => visit(entry, collected)));
  return collected;
}

async function visit(entry: EntryLike, collected: CollectedFiles): Promise<void> {
  const path = entry.fullPath.replace(/^\/+/, '') || entry.name;
  if (isSystemPath(path)) {
    // Do not descend into hidden folders (.git can hold thousands of files): count the folder once.
    collected.ignoredSystemFiles++;
    return;
  }
  try {
    if (entry.isDirectory) {
      const children = await readAllEntries(entry as DirectoryEntryLike);
      await Promise.all(children.map((child) => visit(child, collected)));
    } else if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) =>
        (entry as FileEntryLike).file(resolve, reject),
      );
      add(collected, file, path);
    }
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    collected.unlistable.push({ name: entry.name, path, reason: `could not be read (${detail})` });
  }
}

/** readEntries returns a folder in batches (100 at a time in Chromium): call it until it returns none. */
async function readAllEntries(directory: DirectoryEntryLike): Promise<EntryLike[]> {
  const reader = directory.createReader();
  const all: EntryLike[] = [];
  for (;;) {
    const batch = await new Promise<EntryLike[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

function add(collected: CollectedFiles, file: File, path: string): void {
  if (isSystemPath(path)) collected.ignoredSystemFiles++;
  else collected.entries.push({ file, path });
}
