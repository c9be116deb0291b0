/**
 * Apply's progress: a live view on a TTY (one line per operation in flight, sync %), NDJSON
 * events with --json, and one line per finished operation otherwise (CI logs).
 */
import type { ApplyEvent, EventSink } from '../../apply/events.ts';
import { formatBytes, formatDuration } from '../../model/quantity.ts';
import type { Io } from '../io.ts';
import { describe, opJson } from './plan.ts';

/** NDJSON, one event a line; operations without their container spec (it is in the manifests). */
export function jsonSink(io: Io): EventSink {
  return (e) => io.out(JSON.stringify({ ...e, ...('op' in e && { op: opJson(e.op) }), time: new Date().toISOString() }));
}

export function lineSink(io: Io): EventSink {
  let lastWait = '';
  return (e) => {
    // Waiting re-probes every second: a log needs the reason once, not thirty times.
    if (e.type === 'waiting') { if (e.reason === lastWait) return; lastWait = e.reason; }
    const line = plainLine(e);
    if (line) io.out(line);
  };
}

function plainLine(e: ApplyEvent): string | undefined {
  switch (e.type) {
    case 'round': return `Round ${e.round}: ${e.operations} operation${e.operations === 1 ? '' : 's'}`;
    case 'operation-started': return e.resumed ? `  resuming ${e.op.type} ${e.op.instance} (interrupted by a previous master)` : undefined;
    case 'retry': return `  ${e.instance}: ${e.step} failed (${e.error}); retry ${e.attempt} in ${formatDuration(e.delayMs)}`;
    case 'operation-finished':
      return `  ${e.result === 'succeeded' ? 'ok  ' : 'FAIL'} ${e.op.type} ${e.op.instance} ${describe(e.op)} (${formatDuration(e.durationMs)})${e.note ? ` [${e.note}]` : ''}${e.error ? `: ${e.error}` : ''}`;
    case 'waiting': return `  waiting: ${e.reason}`;
    case 'summary': return undefined;
    case 'step':
    case 'progress': return undefined;
  }
}

/** Redraws the operations in flight below the log of finished ones, at most 10 times a second. */
export function ttySink(write: (s: string) => void): EventSink & { stop(): void } {
  const active = new Map<string, { label: string; step: string; pct?: number; bytes?: number }>();
  let drawn = 0;
  let dirty = false;
  const draw = () => {
    if (!dirty) return;
    dirty = false;
    let s = drawn ? `\x1b[${drawn}A\x1b[J` : '';
    const rows = [...active.values()].slice(0, 15);
    for (const a of rows) s += `  … ${a.label}  ${a.step}${a.pct !== undefined ? ` ${a.pct}% of ${formatBytes(a.bytes ?? 0)}` : ''}\n`;
    if (active.size > rows.length) s += `  … and ${active.size - rows.length} more\n`;
    drawn = rows.length + (active.size > rows.length ? 1 : 0);
    write(s);
  };
  const timer = setInterval(draw, 100);
  const log = (line: string) => {
    write(`${drawn ? `\x1b[${drawn}A\x1b[J` : ''}${line}\n`);
    drawn = 0;
    dirty = true;
  };
  const sink = ((e: ApplyEvent) => {
    if (e.type === 'operation-started') active.set(e.id, { label: `${e.op.type} ${e.op.instance}`, step: 'starting' });
    else if (e.type === 'step') { const a = active.get(e.id); if (a) { a.step = e.step; delete a.pct; } }
    else if (e.type === 'progress') { const a = active.get(e.id); if (a) { a.pct = e.bytesTotal ? Math.floor((100 * e.bytesDone) / e.bytesTotal) : 100; a.bytes = e.bytesTotal; } }
    else if (e.type === 'operation-finished') active.delete(e.id);
    const line = plainLine(e);
    if (line) log(line);
    dirty = true;
  }) as EventSink & { stop(): void };
  sink.stop = () => { clearInterval(timer); dirty = true; active.clear(); draw(); };
  return sink;
}
