// Number formatting shared by the tables and panels: one rule for how statistics read everywhere ("—" for a value
// that does not exist, small p/q-values in exponent form). Pure; no Svelte.

/** `x` with `digits` decimals, or "—" when it is missing or not finite. */
export function fixed(x: number | null | undefined, digits = 3): string {
  return x !== null && x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : '—';
}

/** A p- or q-value: exponent form below 0.001 (so 1e-8 does not read as 0.000), "—" when undefined. */
export function pValue(p: number): string {
  if (!Number.isFinite(p)) return '—';
  return p < 1e-3 ? p.toExponential(1) : p.toFixed(3);
}

/** The `aria-sort` of a column header. */
export function ariaSortOf<K>(key: K, sortKey: K, descending: boolean): 'ascending' | 'descending' | 'none' {
  return key === sortKey ? (descending ? 'descending' : 'ascending') : 'none';
}
