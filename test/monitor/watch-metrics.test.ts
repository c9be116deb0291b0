/** `drover watch` keeps one MasterMetrics fed: from its runs, the events they emit, and the status after each. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startWatch } from '../../src/apply/watch.ts';
import { backend } from '../../src/drivers/index.ts';
import { loadManifests } from '../../src/manifest/index.ts';
import { createMetrics, metered } from '../../src/monitor/metrics.ts';
import { Store } from '../../src/store/store.ts';
import { sandbox } from '../support/watch.ts';
import { parseExposition } from './exposition.ts';

test('a watch run on the sim fills the metrics: instances, nodes, operations, the run', async () => {
  process.env.DROVER_FSYNC = '0';
  const sb = sandbox();
  const loaded = await loadManifests([sb.manifests]);
  assert.ok(loaded.ok);
  const desired = loaded.desired;
  const store = await Store.open({ kind: 'file', stateDir: sb.state });
  const stop = new AbortController();
  const metrics = createMetrics();
  const w = startWatch(metered(metrics, {
    paths: [sb.manifests], desired, store, events: () => {}, report: () => {}, signal: stop.signal,
    load: async () => ({ ok: true, desired }),
    openDriver: (d) => backend('sim').open({ nodes: [...d.nodes.values()], stateDir: sb.state, cluster: [...d.clusters.values()][0]! }),
  }));
  try {
    const deadline = Date.now() + 30_000;
    let text = '';
    // the run's report comes just before the status after it: wait for both
    while (!(/drover_reconcile_runs_total\{result="ok"\} 1/.test(text) && /drover_node_up\{/.test(text)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      text = await metrics.render();
    }
    const f = parseExposition(text);
    const running = f.get('drover_instances')!.samples.find((s) => s.labels.state === 'running')?.value;
    assert.is(running, [...desired.instances.values()].filter((i) => i.state === 'running').length, text);
    assert.is(f.get('drover_node_up')!.samples.filter((s) => s.value === 1).length, desired.nodes.size);
    const creates = f.get('drover_operations_total')!.samples.find((s) => s.labels.type === 'CreateInstance' && s.labels.result === 'succeeded')?.value;
    assert.is(creates, desired.instances.size);
    assert.is(f.get('drover_reconcile_duration_seconds')!.samples.find((s) => s.name.endsWith('_count'))!.value, 1);
    // drover_n1_failing_nodes comes from the API's views, computed once per look: test/api/process.test.ts
  } finally {
    stop.abort();
    await w.done;
    await store.close();
  }
});

test.run();
