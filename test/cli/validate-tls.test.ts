/** drover validate reads the TLS files nodes name; --offline skips them (CI without the certificates). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { drover } from '../support/cli.ts';

const EXAMPLE = 'examples/docker-tls'; // names certs/*.pem, which the example does not ship

test('validate reports missing TLS files at the field; --offline skips them', async () => {
  const checked = await drover(['validate', EXAMPLE]);
  assert.is(checked.code, 1);
  assert.match(checked.stderr, /^examples\/docker-tls\/nodes\.yaml:9:\d+: error: Node "engine-a\.example\.lan": spec\.tls\.ca: cannot read examples\/docker-tls\/certs\/ca\.pem: no such file$/m);
  const offline = await drover(['validate', '--offline', EXAMPLE]);
  assert.is(offline.code, 0, offline.stderr);
  assert.match(offline.stdout, /files OK/);
});

test.run();
