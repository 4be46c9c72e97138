// Turns the findings box's text into the list of findings to rank: one per line, trimmed, empty lines and exact
// duplicates dropped and reported, over-long findings kept but flagged (the text tower truncates them). Pure.

/** A note about the user's findings text that the UI shows next to the box. */
export type FindingsNote =
  | { kind: 'empty-lines'; count: number }
  | { kind: 'duplicate'; finding: string; line: number }
  | { kind: 'too-long'; finding: string; line: number; characters: number };

export interface ParsedFindings {
  findings: string[];
  notes: FindingsNote[];
}

/** Characters beyond which a finding is certainly longer than a CLIP text tower's context; the worker confirms by tokens. */
export const MAX_FINDING_CHARACTERS = 300;

/** Splits the findings text into findings; never throws. Unicode is kept as typed (NFC-normalized). */
export function parseFindingsText(text: string): ParsedFindings {
  const findings: string[] = [];
  const notes: FindingsNote[] = [];
  const seen = new Set<string>();
  let emptyLines = 0;
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const finding = raw.normalize('NFC').replace(/\s+/g, ' ').trim();
    if (!finding) {
      if (raw.length > 0) emptyLines += 1;
      return;
    }
    const key = finding.toLowerCase();
    if (seen.has(key)) {
      notes.push({ kind: 'duplicate', finding, line: i + 1 });
      return;
    }
    seen.add(key);
    if (finding.length > MAX_FINDING_CHARACTERS) {
      notes.push({ kind: 'too-long', finding, line: i + 1, characters: finding.length });
    }
    findings.push(finding);
  });
  if (emptyLines > 0) notes.push({ kind: 'empty-lines', count: emptyLines });
  return { findings, notes };
}
