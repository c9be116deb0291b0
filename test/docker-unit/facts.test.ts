/**
 * A node's facts (data root size, links) kept on the node in a volume's labels (src/drivers/docker/facts.ts):
 * read back by a new process without a helper while fresh; when stale, measured again, but a measurement that
 * outlasts its budget leaves the old facts standing instead of failing the probe. A scripted engine
 * (fake-engine.ts) whose helper never finishes stands for a node too busy to start one in time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../src/drivers/docker/engine.ts';
import { FRESH_MS, MEASURE_BUDGET_MS, factsOf, parseFacts } from '../../src/drivers/docker/facts.ts';
import { probe } from '../../src/drivers/docker/probe.ts';
import type { DesiredNode } from '../../src/model/desired.ts';
import { fakeEngine, type Answer } from './fake-engine.ts';

const CLUSTER = 'factstest';

const DF = `Filesystem           1K-blocks      Used Available Use% Mounted on
overlay               41152736  12345678  26700000  32% /
--links--
eth0
lo
drvl2-40
`;

test('the helper output gives the data root size in bytes and the sorted links', () => {
  assert.equal(parseFacts(DF, 7), { at: 7, diskBytes: 41152736 * 1024, links: ['drvl2-40', 'eth0', 'lo'] });
  assert.equal(parseFacts('df: /: not found\n', 7), { at: 7 }, 'nothing measured: nothing claimed');
});

test('the newest facts of this cluster win; older ones are named for removal; other clusters ignored', () => {
  const vol = (Name: string, cluster: string, at: number, extra: Record<string, string> = {}) =>
    ({ Name, Labels: { 'drover.cluster': cluster, 'drover.facts': cluster, 'drover.facts.at': String(at), ...extra } });
  const got = factsOf(CLUSTER, [
    vol('a', CLUSTER, 100, { 'drover.facts.disk': '4096', 'drover.facts.links': 'eth0,lo' }),
    vol('b', CLUSTER, 300, { 'drover.facts.disk': '8192', 'drover.facts.links': '' }),
    vol('c', 'other', 900),
    { Name: 'drover-web-d0', Labels: { 'drover.cluster': CLUSTER, 'drover.disk': '0' } },
  ]);
  assert.equal(got, { newest: { volume: 'b', at: 300, diskBytes: 8192, links: [] }, older: ['a'] });
});

interface Bed { readonly calls: string[]; readonly e: Engine; close(): Promise<void> }

/** A node whose engine answers the probe's listings at once, shows `factsAt` as its facts, and never finishes a helper. */
async function bed(factsAt: number): Promise<Bed> {
  let release = (): void => {};
  const never = new Promise<Answer>((r) => { release = () => r({ status: 500, body: { message: 'test over' } }); });
  const engine = await fakeEngine({
    answer: (method, p) => {
      if (method === 'GET' && p === '/info') return { status: 200, body: { MemTotal: 1 << 30, NCPU: 2, ServerVersion: '24.0.7' } };
      if (method === 'GET' && p === '/version') return { status: 200, body: { Version: '24.0.7', ApiVersion: '1.43' } };
      if (method === 'GET' && p === '/containers/json') return { status: 200, body: [] };
      if (method === 'GET' && p === '/volumes') {
        return { status: 200, body: { Volumes: [{ Name: 'drover-facts-old', Labels: {
          'drover.cluster': CLUSTER, 'drover.facts': CLUSTER, 'drover.facts.at': String(factsAt), 'drover.facts.disk': String(5 << 30), 'drover.facts.links': 'eth0,lo',
        } }] } };
      }
      if (method === 'GET' && p.startsWith('/images/')) return { status: 200, body: { Id: 'sha256:helper' } };
      if (method === 'POST' && p === '/containers/create') return { status: 201, body: { Id: 'h1' } };
      if (method === 'POST' && p === '/containers/h1/start') return never; // a node too busy to start it in time
      if (method === 'DELETE') return { status: 204 };
      return undefined;
    },
    socketOf: () => '/nonexistent',
  });
  const node: DesiredNode = {
    name: 'n1', labels: {}, cluster: CLUSTER, endpoint: engine.endpoint, group: 'default', drained: false, offline: false,
    source: { file: 'test', line: 1, column: 1 },
  };
  const e = new Engine({ cluster: CLUSTER, nodes: [node], helperImage: 'drover/helper:test', timeoutMs: 5000 });
  return { calls: engine.calls, e, close: async () => { release(); await engine.close(); } };
}

test('fresh facts on the node: a new process probes without starting a helper', async () => {
  const b = await bed(Date.now() - 1000);
  try {
    const p = await probe(b.e, 'n1');
    assert.is(p.capacity.disk, 5 << 30);
    assert.equal(p.links, ['eth0', 'lo']);
    assert.equal(b.calls.filter((c) => c.startsWith('POST /containers')), [], 'no helper created');
  } finally { await b.close(); }
});

test('stale facts and a helper that does not finish in time: the probe answers with the old facts', async () => {
  const b = await bed(Date.now() - FRESH_MS - 1000);
  try {
    const t0 = Date.now();
    const p = await probe(b.e, 'n1');
    const took = Date.now() - t0;
    assert.is(p.capacity.disk, 5 << 30, 'the old facts stand');
    assert.equal(p.links, ['eth0', 'lo']);
    assert.ok(b.calls.includes('POST /containers/create'), 'a new measurement was started');
    assert.ok(took >= MEASURE_BUDGET_MS - 100, `waited for it within the budget (${took} ms)`);
  } finally { await b.close(); }
});

test.run();
