/**
 * A strict parser of Prometheus' text exposition format (version 0.0.4), for tests: it throws
 * naming the line on anything Prometheus would reject or a scrape would misread. The rules:
 * HELP and TYPE at most once per family and before its samples, a family's samples together,
 * metric and label name syntax, label values escaped (\\ \" \n only), float values (+Inf, -Inf,
 * NaN), no duplicate series, histograms with cumulative buckets in increasing `le` ending at
 * +Inf equal to _count, and _sum/_count present.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help?: string;
  readonly samples: Sample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Map<string, Family> {
  if (text.length && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family & { help?: string; type: string }>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: string | undefined;
  const open = (name: string, line: number) => {
    if (current !== name) {
      if (closed.has(name)) throw new Error(`line ${line}: family ${name} appears in two places`);
      if (current) closed.add(current);
      current = name;
    }
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', samples: [] }));
    return f;
  };
  text.split('\n').slice(0, -1).forEach((raw, i) => {
    const line = i + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      const f = open(name, line);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`);
        f.help = unescape(rest, false, line);
      } else {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: bad type ${rest}`);
        if (f.samples.length || (f as { typed?: boolean }).typed) throw new Error(`line ${line}: TYPE for ${name} after its samples or twice`);
        f.type = rest;
        (f as { typed?: boolean }).typed = true;
      }
      return;
    }
    const s = parseSample(raw, line);
    const key = `${s.name}{${Object.entries(s.labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    if (seen.has(key)) throw new Error(`line ${line}: duplicate series ${key}`);
    seen.add(key);
    open(familyOf(s.name, current, families), line).samples.push(s);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** A histogram's _bucket/_sum/_count belong to the family being read. */
function familyOf(name: string, current: string | undefined, families: Map<string, Family>): string {
  if (current && families.get(current)?.type === 'histogram' && [`${current}_bucket`, `${current}_sum`, `${current}_count`].includes(name)) return current;
  if (current && families.get(current)?.type === 'summary' && [current, `${current}_sum`, `${current}_count`].includes(name)) return current;
  return name;
}

function parseSample(raw: string, line: number): Sample {
  const m = /^([^\s{]+)(\{)?/.exec(raw);
  if (!m || !METRIC.test(m[1]!)) throw new Error(`line ${line}: bad metric name in "${raw}"`);
  let pos = m[1]!.length;
  const labels: Record<string, string> = {};
  if (m[2]) {
    pos++;
    while (raw[pos] !== '}') {
      const l = /^([^=\s]+)="/.exec(raw.slice(pos));
      if (!l || !LABEL.test(l[1]!) || l[1]!.startsWith('__')) throw new Error(`line ${line}: bad label at column ${pos + 1}`);
      if (l[1]! in labels) throw new Error(`line ${line}: label ${l[1]} twice`);
      pos += l[0].length;
      let value = '';
      for (;; pos++) {
        const c = raw[pos];
        if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') { value += escapeOf(raw[++pos], true, line); continue; }
        value += c;
      }
      labels[l[1]!] = value;
      pos++;
      if (raw[pos] === ',') pos++;
      else if (raw[pos] !== '}') throw new Error(`line ${line}: expected , or } at column ${pos + 1}`);
    }
    pos++;
  }
  const rest = raw.slice(pos);
  const v = /^ (\S+)( -?\d+)?$/.exec(rest);
  if (!v) throw new Error(`line ${line}: bad value part "${rest}"`);
  return { name: m[1]!, labels, value: parseValue(v[1]!, line) };
}

function parseValue(s: string, line: number): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value ${s}`);
  return Number(s);
}

function escapeOf(c: string | undefined, quotes: boolean, line: number): string {
  if (c === '\\') return '\\';
  if (c === 'n') return '\n';
  if (c === '"' && quotes) return '"';
  throw new Error(`line ${line}: bad escape \\${c ?? ''}`);
}

function unescape(s: string, quotes: boolean, line: number): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s[i] === '\\' ? escapeOf(s[++i], quotes, line) : s[i];
  return out;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let h = series.get(key);
    if (!h) series.set(key, (h = { buckets: [] }));
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      h.buckets.push([parseValue(le, 0), s.value]);
    } else if (s.name === `${f.name}_count`) h.count = s.value;
    else if (s.name === `${f.name}_sum`) h.sum = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name}`);
  }
  for (const h of series.values()) {
    if (h.count === undefined || h.sum === undefined) throw new Error(`${f.name}: _count or _sum missing`);
    const last = h.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${f.name}: no +Inf bucket last`);
    if (last[1] !== h.count) throw new Error(`${f.name}: +Inf bucket ${last[1]} is not _count ${h.count}`);
    h.buckets.forEach(([le, n], i) => {
      if (i === 0) return;
      const [ple, pn] = h.buckets[i - 1]!;
      if (!(le > ple)) throw new Error(`${f.name}: le ${le} after ${ple}`);
      if (n < pn) throw new Error(`${f.name}: bucket le=${le} holds ${n} < ${pn}: not cumulative`);
    });
  }
}
