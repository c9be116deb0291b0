// The API's threads (src/cli/api.ts starts them): `worker` serves, `views` computes what it serves.
// From the compiled build or, like the master that starts them (bin/drover.js decided), from the
// TypeScript sources through tsx.
import { workerData } from 'node:worker_threads';

const name = workerData.role === 'views' ? 'api-views' : 'api-worker';
let run;
if (workerData.fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ run } = await import(`../src/cli/${name}.ts`));
} else {
  ({ run } = await import(`../dist/cli/${name}.js`));
}
await run();
