/** An API server over a converged quick-start cluster on the sim backend, in this process. */
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { ActionRequest, ApiMaster } from '../../src/api/master.ts';
import { perform, type Performer } from '../../src/api/actions.ts';
import { viewsOf } from '../../src/api/views.ts';
import { TokenFile } from '../../src/api/tokens.ts';
import { MasterFeed } from '../../src/cli/api.ts';
import { classifyDrift } from '../../src/plan/drift.ts';
import { SimDriver } from '../../src/drivers/sim/index.ts';
import { loadManifests } from '../../src/manifest/index.ts';
import { observe } from '../../src/observe/index.ts';
import { plan } from '../../src/plan/index.ts';
import { Store } from '../../src/store/store.ts';
import { drover } from '../support/cli.ts';
import { sandbox, type Sandbox } from '../support/watch.ts';

export interface Fixture {
  readonly sb: Sandbox;
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly feed: MasterFeed;
  readonly tokens: { readonly operator: string; readonly viewer: string };
  /** What the actions asked of the "master". */
  readonly pokes: string[];
  /** Unexpected errors the server met (each would have been a 500). */
  readonly errors: Error[];
  /** Observe and plan again, as a master's round does. */
  look(): Promise<void>;
  close(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  process.env.DROVER_FSYNC = '0';
  const sb = sandbox();
  const r = await drover(['apply', sb.manifests, '--state-dir', sb.state]);
  if (r.code !== 0) throw new Error(`apply: ${r.stdout}${r.stderr}`);
  const loaded = await loadManifests([sb.manifests]);
  if (!loaded.ok) throw new Error('bad manifests');
  const desired = loaded.desired;
  const store = new Store(sb.state);
  const feed = new MasterFeed(() => store);
  const look = async () => {
    const driver = new SimDriver({ stateDir: sb.state, nodes: [...desired.nodes.values()], fsync: false, readOnly: true });
    try {
      const observed = await observe(driver, [...desired.nodes.values()]);
      const p = plan({ desired, observed, store, now: Date.now() });
      feed.set({ desired, observed, plan: p, drift: classifyDrift(p, observed, store) });
    } finally { await driver.close(); }
  };
  await look();
  const pokes: string[] = [];
  const location = { kind: 'file' as const, stateDir: sb.state };
  const performer: Performer = { store, look: () => feed.look(), location, reconcile: (t) => void pokes.push(t), lease: () => undefined };
  // as the master does for its API's thread: carry the request out, then a look with the store as it is now
  const act = async (r: ActionRequest) => { const out = await perform(performer, r); if (out.ok) feed.touch(); return out; };
  const master: ApiMaster = { views: viewsOf(() => feed.look()), jobs: () => store.jobs.values(), hub: feed.hub, location, act };
  const file = new TokenFile(sb.state);
  const tokens = { operator: file.create('alice', 'operator'), viewer: file.create('bob', 'viewer') };
  const errors: Error[] = [];
  const app = await buildServer({ master, tokens: file, onError: (e) => void errors.push(e) });
  return { sb, app, store, feed, tokens, pokes, errors, look, close: async () => { await app.close(); await store.close(); } };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
