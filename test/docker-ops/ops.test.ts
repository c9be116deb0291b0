/**
 * The instance tools on real engines, through the CLI: drover logs (and -f), drover console with
 * piped stdin, drover backup of a running replicated instance (frozen only for the local copy),
 * then restore --as a new name and apply: the new instance's disks hold what was backed up, not
 * what was written after. A corrupted backup is refused and changes nothing. Own test bed on
 * 127.0.0.151-152. Needs root and scripts/ci-setup-docker.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN } from '../support/cli.ts';
import { clusterSpec, nodeIndex, ok, withBed, writeManifests, type BedCtx, type InstanceDoc } from '../e2e-docker/helpers.ts';

const CLUSTER = 'ops';
/** Says hello on stdout, then idles (stops at once on SIGTERM). */
const CMD = ['sh', '-c', "echo started $INSTANCE; trap 'exit 0' TERM; while :; do usleep 100000; done"];
const test = suite<BedCtx & { dir?: string }>('docker: logs, console, backup and restore', {});

withBed(test, 'drover-ops-', 2, 150);

const app = (name: string): InstanceDoc => ({ name, env: { INSTANCE: name }, command: CMD });

function manifests(ctx: BedCtx, names: readonly string[]): string {
  const bed = ctx.bed!;
  return writeManifests(path.join(ctx.tmp!, 'manifests'), {
    cluster: CLUSTER, spec: clusterSpec(bed), nodes: [1, 2].map((i) => ({ name: `node${i}`, endpoint: bed.endpoint(i) })), instances: names.map(app),
  });
}

/** `drover console` with `input` on a pipe: its output and exit code. */
function consoleRun(ctx: BedCtx & { dir?: string }, instance: string, input: string): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, 'console', instance, ctx.dir!, '--state-dir', ctx.drover!.stateDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, out, err }); }));
}

async function primaryOf(ctx: BedCtx, instance: string): Promise<string> {
  const s = await ctx.drover!.json<{ instances: { name: string; primary?: string }[] }>(['status', path.join(ctx.tmp!, 'manifests')]);
  return s.instances.find((i) => i.name === instance)!.primary!;
}

test('apply creates the instance; logs shows its output from its primary', async (ctx) => {
  ctx.dir = manifests(ctx, ['app']);
  ok(await ctx.drover!(['apply', ctx.dir, '--yes']), 'apply');
  const deadline = Date.now() + 30_000;
  let r = await ctx.drover!(['logs', 'app', ctx.dir]);
  while (!r.stdout.includes('started app') && Date.now() < deadline) r = await ctx.drover!(['logs', 'app', ctx.dir]);
  ok(r, 'logs');
  assert.is(r.stdout, 'started app\n');
  const since = await ctx.drover!(['logs', 'app', ctx.dir, '--since', '0s']);
  ok(since, 'logs --since');
  assert.not.match(since.stdout, /started/);
});

test('console with piped stdin: the commands run in the instance, the shell\'s exit status comes back', async (ctx) => {
  const r = await consoleRun(ctx, 'app', 'echo hi; echo "in $INSTANCE"; ls -d /data; exit 3\n');
  assert.is(r.code, 3, r.err);
  assert.is(r.out, 'hi\nin app\n/data\n');
  const plain = await consoleRun(ctx, 'app', 'echo bye\n'); // input ends: the shell sees EOF and exits 0
  assert.is(plain.code, 0, plain.err);
  assert.is(plain.out, 'bye\n');
  const unknown = await consoleRun(ctx, 'nosuch', '');
  assert.is(unknown.code, 1);
  assert.is(unknown.err, 'drover console: no instance nosuch: it is neither in the manifests nor placed\n');
});

test('console on a terminal: a real TTY in the instance, of the operator\'s size (util-linux script gives the test one)', async (ctx) => {
  const cmd = `stty cols 91 rows 27; exec ${process.execPath} ${BIN} console app ${ctx.dir!} --state-dir ${ctx.drover!.stateDir}`;
  const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const deadline = Date.now() + 30_000;
    while (!/Connected to app/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /Connected to app on node\d \(a shell in its container\)/);
    child.stdin.write('echo "T=$(tty) S=$(stty size)"\r');
    while (!/T=\/dev\/pts\/\d+ S=\d+ \d+/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /T=\/dev\/pts\/\d+ S=27 91/, out);
    child.stdin.write('exit 5\r');
    assert.is(await exited, 5, out);
  } finally { clearTimeout(timer); child.kill('SIGKILL'); }
});

test('logs -f follows new output (written from a console) until interrupted', async (ctx) => {
  const child = spawn(process.execPath, [BIN, 'logs', 'app', ctx.dir!, '-f', '--since', '0s', '--state-dir', ctx.drover!.stateDir]);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  try {
    await new Promise((r) => setTimeout(r, 3000)); // the follower is attached
    const w = await consoleRun(ctx, 'app', 'echo tick-1 > /proc/1/fd/1; echo tick-2 > /proc/1/fd/1\n');
    assert.is(w.code, 0, w.err);
    const deadline = Date.now() + 30_000;
    while (!out.includes('tick-2') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.is(out, 'tick-1\ntick-2\n');
    child.kill('SIGINT');
    assert.is(await exited, 0);
  } finally { child.kill('SIGKILL'); }
});

test('backup (frozen briefly), more writes, restore --as app2, apply: app2 has what was backed up', async (ctx) => {
  const bed = ctx.bed!;
  const drover = ctx.drover!;
  const primary = await primaryOf(ctx, 'app');
  await bed.data.write(primary, 'app', 0, { 'a.txt': 'one', 'dir/b.txt': 'deep' });
  const file = path.join(ctx.tmp!, 'app.tar');
  const b = await drover(['backup', 'app', ctx.dir!, '--to', file]);
  ok(b, 'backup');
  const frozen = /frozen (\S+) for a consistent copy/.exec(b.stdout);
  assert.ok(frozen, b.stdout);
  console.log(`    backup of a running instance: ${b.stdout.trim()}`);
  const info = await bed.engine(nodeIndex(primary)).getContainer('drover-app').inspect();
  assert.ok(info.State.Running && !info.State.Paused, 'running and thawed after the backup');
  await bed.data.write(primary, 'app', 0, { 'a.txt': 'two', 'c.txt': 'after' });
  // a corrupted copy changes nothing
  const bad = path.join(ctx.tmp!, 'bad.tar');
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 3000] ^= 0xff;
  fs.writeFileSync(bad, bytes);
  const refused = await drover(['restore', bad, ctx.dir!, '--as', 'app3']);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /corrupted or was altered; nothing was changed/);
  assert.is(fs.readdirSync(path.join(drover.stateDir, 'restores')).length, 0);
  // restore: its output is the manifest to commit
  const r = await drover(['restore', file, ctx.dir!, '--as', 'app2']);
  ok(r, 'restore');
  fs.writeFileSync(path.join(ctx.dir!, 'app2.yaml'), r.stdout);
  ok(await drover(['apply', ctx.dir!, '--yes']), 'apply with app2');
  const s = await drover.json<{ instances: { name: string; primary?: string; secondary?: string; state: string }[] }>(['status', ctx.dir!]);
  const app2 = s.instances.find((i) => i.name === 'app2')!;
  assert.is(app2.state, 'running');
  assert.equal(await bed.data.read(app2.primary!, 'app2', 0), { 'a.txt': 'one', 'dir/b.txt': 'deep' });
  assert.equal(await bed.data.read(app2.secondary!, 'app2', 0), { 'a.txt': 'one', 'dir/b.txt': 'deep' }, 'the replica got it by the first sync');
  assert.equal(await bed.data.read(primary, 'app', 0), { 'a.txt': 'two', 'dir/b.txt': 'deep', 'c.txt': 'after' }, 'the original is untouched');
});

test('a backup killed during its freeze left the instance paused: the next backup thaws it first', async (ctx) => {
  const bed = ctx.bed!;
  const primary = await primaryOf(ctx, 'app');
  const docker = bed.engine(nodeIndex(primary));
  // what a kill -9 between pause and unpause leaves: the paused container and the backup helper
  const helper = await docker.createContainer({ name: 'drover-app-backup', Image: bed.image, Cmd: ['true'], Labels: { 'drover.cluster': CLUSTER, 'drover.instance': 'app', 'drover.helper': 'backup' } });
  await docker.getContainer('drover-app').pause();
  try {
    const b = await ctx.drover!(['backup', 'app', ctx.dir!, '--to', path.join(ctx.tmp!, 'again.tar')]);
    ok(b, 'backup after an interrupted one');
    assert.match(b.stdout, /frozen \S+ for a consistent copy/);
    const info = await docker.getContainer('drover-app').inspect();
    assert.ok(info.State.Running && !info.State.Paused, 'thawed');
  } finally {
    await docker.getContainer('drover-app').unpause().catch(() => {});
    await helper.remove({ force: true }).catch(() => {});
  }
});

test.run();
