/** drover logs and console on the sim: the journal, --since, -f, and the refusals (unknown, unreachable, no console). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { drover, sandbox } from '../support/watch.ts';
import { BIN } from '../support/cli.ts';

const sb = sandbox();

test.before(() => {
  assert.is(drover(sb, ['apply', sb.manifests]).code, 0);
});

test('logs: the sim\'s journal of what happened to the instance, on every node, timestamped', () => {
  const r = drover(sb, ['logs', 'web1', sb.manifests]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^\d{4}-\d\d-\d\dT[^ ]+Z node\d: disk 0 primary \(generation 1, 1G, data version 0\)$/m);
  assert.match(r.out, /node\d: container running \(generation 1, memory 1G, \d+ vCPUs\)$/m);
  assert.not.match(r.out, /db1|web2/);
  assert.is(drover(sb, ['logs', 'web1', sb.manifests, '--since', '0s']).out, '', 'nothing happened in the last 0 s');
});

test('logs -f: follows what happens next, until interrupted', async () => {
  const child = spawn(process.execPath, [BIN, 'logs', 'web1', sb.manifests, '-f', '--since', '0s'], { env: { ...process.env, DROVER_STATE_DIR: sb.state, DROVER_FSYNC: '0' } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  try {
    await new Promise((r) => setTimeout(r, 2000)); // the follower is running
    const primary = /node\d/.exec(drover(sb, ['status', sb.manifests]).out.split('\n').find((l) => l.startsWith('web1'))!)![0];
    assert.is(drover(sb, ['sim', 'write', 'web1']).code, 0, `sim write web1 (primary ${primary})`);
    const deadline = Date.now() + 20_000;
    while (!/data version 1/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, new RegExp(`${primary}: disk 0 primary \\(generation 1, 1G, data version 1\\)`));
    child.kill('SIGINT');
    assert.is(await exited, 0);
  } finally { child.kill('SIGKILL'); }
});

test('refusals: one line and exit 1 for an unknown instance, an unreachable node, the sim\'s console', () => {
  const unknown = drover(sb, ['logs', 'nosuch', sb.manifests]);
  assert.is(unknown.code, 1);
  assert.is(unknown.err, 'drover logs: no instance nosuch: it is neither in the manifests nor placed\n');
  const console = drover(sb, ['console', 'web1', sb.manifests]);
  assert.is(console.code, 1);
  assert.is(console.err, 'drover console: the sim backend has no console\n');
  const primary = /node\d/.exec(drover(sb, ['status', sb.manifests]).out.split('\n').find((l) => l.startsWith('db1'))!)![0];
  assert.is(drover(sb, ['sim', 'fail-node', primary]).code, 0);
  try {
    const down = drover(sb, ['logs', 'db1', sb.manifests]);
    assert.is(down.code, 1);
    assert.match(down.err, new RegExp(`^drover logs: node ${primary}, where db1 runs, is unreachable: [^\\n]*\\n$`));
    assert.is(drover(sb, ['console', 'db1', sb.manifests]).code, 1);
  } finally { drover(sb, ['sim', 'restore-node', primary]); }
});

test.run();
