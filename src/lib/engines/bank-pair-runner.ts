// Runs the concept-bank method on one benchmark pair given its files: intake (hash + header check), embed both
// sets through the ranker session (cache first), rank every bank phrase and return the proposals best first.
// Images that cannot be read or decoded are left out; the pair fails only when a set ends up empty.
import { proposeFromBank, type BankPhrase, type BankProposal } from '../core/concept-bank.ts';
import { namedError } from '../core/types.ts';
import { intakeFiles } from '../imaging/intake.ts';
import type { RankerSession } from './ranker-session.ts';
import { compactRows } from './session-embedder.ts';

export interface PairRunResult {
  proposals: BankProposal[];
  nA: number;
  nB: number;
  leftOut: number;
}

export async function runBankOnPair(
  session: RankerSession,
  filesA: readonly File[],
  filesB: readonly File[],
  phrases: readonly BankPhrase[],
  signal: AbortSignal,
  topK = 10,
): Promise<PairRunResult> {
  const [a, b] = [await intakeFiles(filesA, { signal }), await intakeFiles(filesB, { signal })];
  if (signal.aborted) throw namedError('AbortError', 'cancelled');
  const images = [...a.images, ...b.images];
  const embedded = await session.embedImages(images, { signal });
  // Positions, not hashes, name the rows: the same file may sit in both sets.
  const positions = images.map((_, i) => String(i));
  const rows = compactRows(positions, embedded.matrix, embedded.dim, embedded.failures);
  const labels = new Uint8Array(rows.ok.map((i) => (Number(i) < a.images.length ? 1 : 0)));
  const nA = labels.reduce((s, l) => s + l, 0);
  const nB = labels.length - nA;
  if (nA === 0 || nB === 0) throw new Error(`set ${nA === 0 ? 'A' : 'B'} has no readable image`);
  const dim = embedded.dim;
  const matrix = rows.embeddings;
  const texts = await session.embedTexts(
    phrases.map((p) => p.text),
    signal,
  );
  const { proposals } = proposeFromBank({
    phrases,
    imageEmbeddings: matrix,
    dim,
    labels,
    textEmbeddings: texts.embeddings,
    topK,
  });
  const leftOut = a.skipped.length + b.skipped.length + rows.failed.length;
  return { proposals, nA, nB, leftOut };
}
