/** A watch whose file lease is broken by hand stops at once and says why (as with the etcd lease). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { drover, sandbox, WatchProcess } from '../support/watch.ts';

test('a watch whose lease is broken (drover lock break) stops acting: exit 1, with the reason', async () => {
  const sb = sandbox();
  const w = new WatchProcess(sb, []);
  try {
    await w.waitFor(/Run 1 \(start\)/, 20_000);
    assert.match(drover(sb, ['lock', 'status']).out, new RegExp(`Held by pid ${w.child.pid} `));
    assert.is(drover(sb, ['lock', 'break']).code, 0);
    assert.is(await w.exited, 1);
    assert.match(w.err, /drover: lost the cluster lease: the cluster lease file \S+ is gone.*Stopping now so that two masters never act at once/);
    assert.match(drover(sb, ['lock', 'status']).out, /Free/, 'the stopped watch did not write its lease back');
  } finally {
    w.child.kill('SIGKILL');
    fs.rmSync(sb.dir, { recursive: true, force: true });
  }
});

test('a watch whose lease is taken over (after a stall) stops acting and leaves the new holder alone', async () => {
  const sb = sandbox();
  const w = new WatchProcess(sb, []);
  try {
    await w.waitFor(/Run 1 \(start\)/, 20_000);
    const other = { host: 'elsewhere', pid: 4242, command: 'drover watch (standby)', acquiredAt: Date.now(), expiresAt: Date.now() + 60_000 };
    fs.writeFileSync(`${sb.state}/lease.json.new`, JSON.stringify(other)); // atomically, as a taker writes it
    fs.renameSync(`${sb.state}/lease.json.new`, `${sb.state}/lease.json`);
    assert.is(await w.exited, 1);
    assert.match(w.err, /drover: lost the cluster lease: the cluster lease was taken over by pid 4242 on elsewhere/);
    assert.equal(JSON.parse(fs.readFileSync(`${sb.state}/lease.json`, 'utf8')), other);
  } finally {
    w.child.kill('SIGKILL');
    fs.rmSync(sb.dir, { recursive: true, force: true });
  }
});

test.run();
