// The API's worker thread (src/cli/api.ts starts it): from the compiled build or, like the master
// that starts it (bin/drover.js decided), from the TypeScript sources through tsx.
import { workerData } from 'node:worker_threads';

let runWorker;
if (workerData.fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runWorker } = await import('../src/cli/api-worker.ts'));
} else {
  ({ runWorker } = await import('../dist/cli/api-worker.js'));
}
await runWorker();
