/**
 * The `streamfan` command line, as a library: run it in-process with {@link main}, or reuse
 * its pure formatters.
 * @packageDocumentation
 */
export { main } from './main';
export { buildProgram, VERSION } from './program';
export { type Io, type GlobalOptions } from './context';
export { UsageError, EXIT, classify } from './errors';
export { formatDuration, parseDuration } from './format/duration';
export { formatTable, formatPairs, truncate, type Column } from './format/table';
export { formatRelative, formatTime } from './format/time';
export { parseJsonInput, jsonErrorOffset } from './format/json-input';
export * from './metrics/index';
