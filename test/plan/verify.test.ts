/** verify's image check (pure): nodes whose images differ, and an image no node has. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verify } from '../../src/plan/verify.ts';
import * as F from '../support/fixtures.ts';

const d = F.desired(['n1', 'n2', 'n3'].map((n) => F.node(n)), [F.instance('web', { image: 'web:1' }), F.instance('db', { image: 'db:2' })]);
const input = { desired: d, ...F.settled(d, []), now: 0 };
const images = (f: ReturnType<typeof verify>) => f.filter((x) => x.code === 'EIMAGES').map((x) => `${x.severity} ${x.node}: ${x.message}`);

test('a node lacking an image others have is a warning naming who has it', () => {
  const found = images(verify(input, new Map([['n1', ['web:1', 'db:2']], ['n2', ['web:1']], ['n3', ['web:1', 'db:2']]])));
  assert.equal(found, ['warning n2: node n2 lacks image db:2; n1, n3 have it (Drover copies it before it creates an instance there)']);
});

test('an image no node has is an error on every node', () => {
  const found = images(verify(input, new Map([['n1', ['web:1']], ['n2', ['web:1']], ['n3', ['web:1']]])));
  assert.is(found.length, 3);
  assert.ok(found.every((f) => f.startsWith('error') && f.includes('no node has it')));
});

test('backends without images (sim) skip the check', () => {
  assert.equal(images(verify(input)), []);
});

test.run();
