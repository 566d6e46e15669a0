import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './fleet';
import type { GroupReport } from './checker';

/** Where every table of a run is appended (FAULTS_RESULTS overrides). */
export const RESULTS_FILE = process.env.FAULTS_RESULTS ?? join(REPO_ROOT, '.tmp/faults-results.md');

/** The checker's table for one fault, in Markdown. */
export function formatTable(fault: string, reports: GroupReport[], notes: string[] = []): string {
  const lines = [
    `### ${fault}`,
    '',
    '| group | events | deliveries | duplicates | lost | dead letters | pending | lag | status mismatches |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of reports) {
    const dead = r.foreignDeadLetters > 0 ? `${r.deadLetters} (+${r.foreignDeadLetters} malformed)` : String(r.deadLetters);
    const lost = r.reportedLost > 0 ? `${r.lost} (+${r.reportedLost} reported trimmed)` : String(r.lost);
    lines.push(`| ${r.group} | ${r.events} | ${r.deliveries} | ${r.duplicates} | ${lost} | ${dead} | ${r.pending} | ${r.lag ?? 'n/a'} | ${r.statusMismatches} |`);
  }
  for (const r of reports) {
    if (r.republished > 0) lines.push('', `${r.group}: ${r.republished} events were written twice by one publish (the client resent it after its connection was cut); they count as duplicates`);
    if (r.lostSeqs.length > 0) lines.push('', `lost in ${r.group}: seq ${r.lostSeqs.join(', ')}`);
    if (r.mismatchExamples.length > 0) lines.push('', `status mismatches in ${r.group}: ${r.mismatchExamples.join('; ')}`);
  }
  if (notes.length > 0) lines.push('', ...notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** Print the table (jest shows stdout of the test process) and append it to {@link RESULTS_FILE}. */
export function printTable(fault: string, reports: GroupReport[], notes: string[] = []): string {
  const table = formatTable(fault, reports, notes);
  process.stdout.write(`\n${table}\n`);
  try {
    mkdirSync(dirname(RESULTS_FILE), { recursive: true });
    appendFileSync(RESULTS_FILE, `${table}\n`);
  } catch { /* printing is what matters */ }
  return table;
}
