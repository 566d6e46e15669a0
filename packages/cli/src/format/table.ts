/** One column of a {@link formatTable}. */
export interface Column<R> {
  header: string;
  /** The cell text of a row. */
  value: (row: R) => string;
  /** Numbers read best right-aligned. @defaultValue 'left' */
  align?: 'left' | 'right';
}

/**
 * Aligned columns for people: a header line, then one line per row, two spaces between
 * columns, no trailing spaces. Cells are never cut (ids stay whole).
 */
export function formatTable<R>(columns: ReadonlyArray<Column<R>>, rows: readonly R[]): string {
  const cells = rows.map((r) => columns.map((c) => oneLine(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** Key/value lines (`key:  value`) with the keys aligned, for one record. */
export function formatPairs(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`.trimEnd()).join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n').replace(/\t/g, ' ');
}

/** Shorten free text (errors, payloads) for a table cell; ids are never passed here. */
export function truncate(text: string, max: number): string {
  const t = oneLine(text);
  return t.length <= max ? t : `${t.slice(0, Math.max(0, max - 1))}…`;
}
