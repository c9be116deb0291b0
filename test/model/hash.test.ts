/**
 * The spec hash: keyed, defaults left out, versioned; a hash an older Drover wrote (v1) still matches
 * the spec it was made from, so an upgrade recreates nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { specHash, specMatches } from '../../src/model/hash.ts';
import { specHashV1 } from '../../src/model/hash-v1.ts';
import type { InstanceSpec } from '../../src/model/operations.ts';
import { toSpec } from '../../src/plan/spec.ts';

const MiB = 1024 * 1024;
/** The three specs of test/fixtures/upgrade, as today's planner builds them, with the hashes v1 gave them there. */
const web: InstanceSpec = {
  name: 'web', image: 'nginx:1.27', memory: 512 * MiB, vcpus: 1, diskTemplate: 'replicated',
  disks: [{ size: 1024 * MiB, mount: '/data' }], env: { PORT: '8080', MODE: 'production' }, command: ['nginx', '-g', 'daemon off;'],
  ports: [{ container: 80, host: 8080, protocol: 'tcp' }, { container: 53, protocol: 'udp' }, { container: 9000, host: 19000, protocol: 'udp' }],
};
const plain: InstanceSpec = { name: 'plain', image: 'busybox', memory: 512 * MiB, vcpus: 1, diskTemplate: 'plain', disks: [{ size: 1024 * MiB, mount: '/data' }], env: {}, ports: [] };
const idle: InstanceSpec = {
  name: 'idle', image: 'busybox', memory: 1024 * MiB, vcpus: 2, diskTemplate: 'replicated',
  disks: [{ size: 2048 * MiB, mount: '/var/lib/x' }, { size: 1024 * MiB, mount: '/srv' }], env: {}, ports: [],
};
const V1 = new Map([[web, '14685fce862e'], [plain, '52b8c5c2471d'], [idle, 'cf72f4ab2670']]);

/** A spec with a field the type does not have yet, as a later Drover would build it. */
const withField = (spec: InstanceSpec, field: string, value: unknown): InstanceSpec => ({ ...spec, [field]: value }) as InstanceSpec;

test('v1 is frozen: it still gives the hashes the fixture cluster was made with', () => {
  for (const [spec, hash] of V1) assert.is(specHashV1(spec), hash, spec.name);
});

test('v2 is pinned too: once released, its formula never changes (a change needs v3)', () => {
  assert.is(specHash(web), 'v2:2de5a300a2ef');
  assert.is(specHash(plain), 'v2:5bd24b6b0065');
  // what it digests: the fields by name, keys sorted, defaults (env {}, ports [], no command, …) left out,
  // and what changes in place (memory, vcpus, disk sizes) too
  const canonical = '{"disks":[{"mount":"/data"}],"image":"busybox"}';
  assert.is(specHash(plain), `v2:${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`);
  for (const spec of V1.keys()) assert.match(specHash(spec), /^v2:[0-9a-f]{12}$/);
});

test('keyed: the order of env keys, or of keys in any object, does not matter', () => {
  const reordered: InstanceSpec = {
    ports: web.ports.map(({ protocol, host, container }) => ({ protocol, ...(host === undefined ? {} : { host }), container })),
    env: { MODE: 'production', PORT: '8080' }, command: web.command, disks: [{ mount: '/data', size: 1024 * MiB }],
    vcpus: 1, memory: 512 * MiB, image: 'nginx:1.27', diskTemplate: 'replicated', name: 'web',
  };
  assert.is(specHash(reordered), specHash(web));
});

test('fields at their default are left out: absent, undefined, empty list and empty map are one', () => {
  const bare = { name: 'plain', image: 'busybox', memory: 512 * MiB, vcpus: 1, diskTemplate: 'plain', disks: [{ size: 1024 * MiB, mount: '/data' }] };
  assert.is(specHash(bare as unknown as InstanceSpec), specHash(plain));
  assert.is(specHash({ ...plain, command: undefined }), specHash(plain));
  assert.is(specHash({ ...web, ports: web.ports.map((p) => ({ ...p, host: p.host })) }), specHash(web), 'host: undefined inside a port');
});

test('a new optional field, at its default, keeps every hash; set, it changes it', () => {
  for (const spec of [web, plain, idle]) {
    for (const [field, atDefault] of [['labels', {}], ['networks', []], ['restart', undefined]] as const) {
      assert.is(specHash(withField(spec, field, atDefault)), specHash(spec), `${spec.name}.${field}`);
    }
    assert.is.not(specHash(withField(spec, 'networks', ['back'])), specHash(spec));
  }
  const portField = { ...web, ports: web.ports.map((p) => ({ ...p, hostIp: undefined })) };
  assert.is(specHash(portField), specHash(web), 'a new field inside a port, at its default');
});

test('every field only a new container can change changes the hash; its name, disk template, limits and disk sizes do not', () => {
  const changes: InstanceSpec[] = [
    { ...web, image: 'nginx:1.28' }, { ...web, disks: [{ size: 1024 * MiB, mount: '/srv' }] },
    { ...web, disks: [...web.disks, { size: MiB, mount: '/tmp' }] },
    { ...web, env: { ...web.env, PORT: '8081' } }, { ...web, env: { PORT: '8080' } }, { ...web, command: ['nginx'] }, { ...web, command: undefined },
    { ...web, ports: web.ports.slice(1) }, { ...web, ports: [{ ...web.ports[0]!, host: 8081 }, ...web.ports.slice(1)] },
    { ...web, ports: [{ ...web.ports[0]!, protocol: 'udp' }, ...web.ports.slice(1)] },
  ];
  const hashes = new Set([specHash(web), ...changes.map(specHash)]);
  assert.is(hashes.size, changes.length + 1, 'each change gives its own hash');
  assert.is(specHash({ ...web, name: 'web2', diskTemplate: 'plain' }), specHash(web));
  assert.is(specHash({ ...web, memory: 1024 * MiB, vcpus: 2, disks: [{ size: 2048 * MiB, mount: '/data' }] }), specHash(web), 'changed in place');
});

test('specMatches: a v2 hash against the spec it was made from, and against a changed one', () => {
  assert.ok(specMatches(specHash(web), web));
  assert.ok(specMatches(specHash(web), { ...web, env: { MODE: 'production', PORT: '8080' } }));
  assert.not.ok(specMatches(specHash(web), { ...web, image: 'nginx:1.28' }));
  assert.ok(specMatches(specHash(plain), withField(plain, 'networks', [])), 'written today, read by a Drover whose spec has a new field');
});

test('specMatches: a v1 hash is recomputed with v1, not taken for a change', () => {
  for (const [spec, hash] of V1) {
    assert.ok(specMatches(hash, spec), spec.name);
    assert.ok(specMatches(hash, withField(spec, 'networks', [])), `${spec.name}: a new field at its default`);
    assert.not.ok(specMatches(hash, { ...spec, vcpus: spec.vcpus + 1 }), `${spec.name}: a real change`);
    assert.not.ok(specMatches(hash, withField(spec, 'networks', ['back'])), `${spec.name}: a field v1 did not know, set`);
  }
  assert.not.ok(specMatches('52b8c5c2471d', web), 'a v1 hash of another spec');
});

test('specMatches: a hash of an unknown version, or no hash at all, matches nothing', () => {
  const v3 = specHash(web).replace(/^v2:/, 'v3:');
  assert.not.ok(specMatches(v3, web));
  assert.not.ok(specMatches('', web));
  assert.not.ok(specMatches('x', web));
});

test('VM fields (hypervisor, boot, machine) change no container hash: absent on containers, and a VM hashes its memory and vcpus', () => {
  assert.is(specHash(toSpec({ ...plain, labels: {}, cluster: 'c', state: 'running', antiAffinity: [], source: { file: 'f', line: 1, column: 1 } })), 'v2:5bd24b6b0065');
  const vm: InstanceSpec = { ...plain, image: '/srv/img/root.img', hypervisor: 'kvm', boot: { kernel: '/srv/vmlinuz' }, machine: 'pc-i440fx-7.2' };
  assert.is.not(specHash(vm), specHash(plain));
  // a container's memory changes in place (not hashed); a VM's is QEMU's command line (hashed)
  assert.is(specHash({ ...plain, memory: 2 * plain.memory }), specHash(plain));
  assert.is.not(specHash({ ...vm, memory: 2 * vm.memory }), specHash(vm));
  assert.is.not(specHash({ ...vm, vcpus: 2 }), specHash(vm));
  assert.is.not(specHash({ ...vm, machine: 'pc-q35-7.2' }), specHash(vm));
});

test.run();
