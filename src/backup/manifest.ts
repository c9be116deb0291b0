/** The instance's own manifest document, as written (comments kept), and the same under a new name. Pure. */

/** The YAML document of a multi-document file that holds `line` (1-based), without its `---` separators. */
export function documentAt(text: string, line: number): string {
  const lines = text.split('\n');
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!/^---\s*$/.test(lines[i]!)) continue;
    if (i + 1 >= line) return lines.slice(start, i).join('\n').trim() + '\n';
    start = i + 1;
  }
  return lines.slice(start).join('\n').trim() + '\n';
}

/**
 * Rename: the `name:` under `metadata:` (the first key of that name indented under it), and drop a
 * renamedFrom; a document in flow style (JSON is YAML) has its `"metadata": {"name": …}` renamed.
 */
export function renamed(doc: string, from: string, to: string): string {
  const lines = doc.split('\n');
  const meta = lines.findIndex((l) => /^metadata:\s*$/.test(l));
  if (meta < 0) return renamedFlow(doc, from, to);
  const out = [...lines];
  for (let i = meta + 1; i < lines.length && /^\s+\S|^\s*$/.test(lines[i]!); i++) {
    const m = /^(\s+name:\s*)(["']?)(.*?)\2(\s*(#.*)?)$/.exec(lines[i]!);
    if (m && m[3] === from) {
      out[i] = `${m[1]}${to}${m[4] ?? ''}`;
      return out.filter((l, k) => !(k > meta && /^\s+renamedFrom:/.test(l))).join('\n');
    }
  }
  throw new Error(`the backed-up manifest does not name ${from} under metadata`);
}

function renamedFlow(doc: string, from: string, to: string): string {
  const re = /((["']?)metadata\2\s*:\s*\{[^}]*?(["']?)name\3\s*:\s*)(["']?)([^"',}\s]+)\4/;
  const m = re.exec(doc);
  if (!m || m[5] !== from) throw new Error(`the backed-up manifest does not name ${from} under metadata`);
  const q = m[4] || '';
  return doc.replace(re, `${m[1]}${q}${to}${q}`).replace(/,\s*(["']?)renamedFrom\1\s*:\s*(["'])[^"']*\2/, '');
}
