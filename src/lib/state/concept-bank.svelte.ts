// UI state of the user-editable concept bank: its text (persisted in localStorage), parse errors by line, and the
// expanded phrases the concept-bank proposer ranks. Reset returns to the built-in bank.
import { DEFAULT_BANK, expandBankPhrases, formatBank, parseBank } from '../core/concept-bank.ts';

const STORAGE_KEY = 'raddiff.conceptBank.v1';
const DEFAULT_TEXT = formatBank(DEFAULT_BANK);

function readStored(): string {
  try {
    return localStorage.getItem(STORAGE_KEY) ?? DEFAULT_TEXT;
  } catch {
    return DEFAULT_TEXT;
  }
}

export class ConceptBankState {
  text = $state(readStored());
  readonly parsed = $derived(parseBank(this.text));
  readonly phrases = $derived(expandBankPhrases(this.parsed));
  readonly isDefault = $derived(this.text === DEFAULT_TEXT);

  setText(text: string): void {
    this.text = text;
    try {
      if (text === DEFAULT_TEXT) localStorage.removeItem(STORAGE_KEY);
      else localStorage.setItem(STORAGE_KEY, text);
    } catch {
      // Storage unavailable (private mode): the edit still applies to this tab.
    }
  }

  reset(): void {
    this.setText(DEFAULT_TEXT);
  }
}
