/** Quantities and durations as Ganeti writes them. Pure parsing, no I/O. */

const MiB = 1024 * 1024;
const UNIT: Readonly<Record<string, number>> = {
  '': MiB, // a bare number is MiB, as in Ganeti
  K: 1024, Ki: 1024,
  M: MiB, Mi: MiB,
  G: 1024 * MiB, Gi: 1024 * MiB,
  T: 1024 * 1024 * MiB, Ti: 1024 * 1024 * MiB,
};

/** `512M`, `1G`, `1.5T`, `10Gi`, `2048` (MiB) → bytes; undefined when it is not a quantity. */
export function parseQuantity(text: string | number): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?)?\s*$/.exec(String(text));
  if (!m) return undefined;
  const bytes = Number(m[1]) * UNIT[m[2] ?? '']!;
  return Number.isFinite(bytes) ? Math.round(bytes) : undefined;
}

const SECOND: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `30s`, `5m`, `1h`, `250ms` → milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return text * 1000; // a bare number is seconds
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text);
  return m ? Math.round(Number(m[1]) * SECOND[m[2]!]!) : undefined;
}

/** Bytes → the shortest exact-ish binary unit, for tables: 536870912 → `512M`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['T', UNIT.T!], ['G', UNIT.G!], ['M', MiB]] as const) {
    if (bytes >= size) {
      const v = bytes / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)}${unit}`;
    }
  }
  return `${bytes}B`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
  return `${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`;
}
