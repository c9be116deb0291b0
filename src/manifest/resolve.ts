/**
 * Valid manifests → the model's Desired types: quantities in bytes, durations in ms, instance
 * fields falling back to their cluster's defaults. Values the schema cannot judge (a quantity of 0,
 * a port above 65535) are reported here, at the field.
 */

import { dirname, resolve as resolvePath } from 'node:path';
import type {
  Budget, DesiredCluster, DesiredInstance, DesiredNode, DiskSpec, HealthCheck, NodeCapacity, PortSpec,
} from '../model/desired.ts';
import { defaultMount } from '../model/desired.ts';
import { parseDuration, parseQuantity } from '../model/quantity.ts';
import type { Diagnostics } from './diagnostic.ts';
import { resolveMacPrefix, resolveNics } from './networks.ts';
import { DURATION_HINT, QUANTITY_HINT, dotted, show } from './schema-errors.ts';
import type { DiskDoc, Duration, HealthDoc, Manifest, PortDoc, Quantity } from './types.ts';
import { where } from './types.ts';
import { resolvePolicy } from './policy.ts';
import { ganetiInstanceFields, ganetiNodeFields, type LabelProblem } from '../model/ganeti-labels.ts';

/** Converts one manifest's fields, reporting bad values at their place. */
class Fields {
  constructor(private readonly m: Manifest, private readonly diags: Diagnostics) {}

  error(pointer: string, message: string): void {
    this.diags.error(where(this.m, pointer), `${this.m.title}: ${dotted(pointer)}: ${message}`);
  }

  /** Bytes, more than zero (nothing in a manifest is usefully zero bytes). */
  bytes(pointer: string, value: Quantity): number {
    const bytes = parseQuantity(value);
    if (bytes === undefined) this.error(pointer, `${show(value)} ${QUANTITY_HINT}`);
    else if (bytes <= 0) this.error(pointer, `must be more than 0, got ${show(value)}`);
    else if (!Number.isSafeInteger(bytes)) this.error(pointer, `${show(value)} is too large`);
    else return bytes;
    return Number.NaN; // see capacity.ts: NaN fails every comparison, so no follow-up errors
  }

  ms(pointer: string, value: Duration): number {
    const ms = parseDuration(value);
    if (ms === undefined) this.error(pointer, `${show(value)} ${DURATION_HINT}`);
    return ms ?? 0;
  }

  disks(pointer: string, disks: readonly DiskDoc[]): DiskSpec[] {
    const mounts = new Map<string, number>();
    return disks.map((d, i) => {
      const mount = d.mount ?? defaultMount(i); // where docker mounts it: a clash with it is a clash too
      const first = mounts.get(mount);
      if (first !== undefined) this.error(`${pointer}/${i}${d.mount ? '/mount' : ''}`, `"${mount}"${d.mount ? '' : ' (where a disk without a mount is mounted)'} is already the mount of disks[${first}]`);
      mounts.set(mount, i);
      return { size: this.bytes(`${pointer}/${i}/size`, d.size), mount };
    });
  }

  /** A duration that must be more than zero (a wait of 0 would spin or never succeed). */
  positiveMs(pointer: string, value: Duration, why: string): number {
    const ms = parseDuration(value);
    if (ms === undefined) this.error(pointer, `${show(value)} ${DURATION_HINT}`);
    else if (ms === 0) this.error(pointer, `must be more than 0, got ${show(value)}: ${why}`);
    return ms ?? 0;
  }

  /** `1` or `"50%"`; 0 would hold every change of a group forever. */
  budget(pointer: string, value: number | string): Budget {
    const percent = typeof value === 'string' ? Number.parseFloat(value) : undefined;
    const n = percent ?? (value as number);
    if (n === 0) this.error(pointer, `${show(value)} lets no member of a group be changed, so a change to any group could never progress (use 1, or a share such as "25%")`);
    else if (percent !== undefined && percent > 100) this.error(pointer, `${show(value)} is more than all of a group's members (use at most "100%")`);
    return percent === undefined ? { count: n } : { percent };
  }

  health(pointer: string, h: HealthDoc): HealthCheck {
    if ((h.exec === undefined) === (h.tcp === undefined)) this.error(pointer, 'give exactly one of exec (a command) or tcp (a port)');
    return {
      probe: h.exec ? { exec: h.exec } : { tcp: h.tcp ?? 0 },
      intervalMs: this.positiveMs(`${pointer}/interval`, h.interval, 'the next check would never wait'),
      timeoutMs: this.positiveMs(`${pointer}/timeout`, h.timeout, 'every check would time out at once'),
      retries: h.retries,
      startPeriodMs: this.ms(`${pointer}/startPeriod`, h.startPeriod),
    };
  }

  port(pointer: string, port: PortDoc): PortSpec {
    if (typeof port === 'object') return port;
    const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(String(port))!;
    const [host, container] = [m[1] === undefined ? undefined : Number(m[1]), Number(m[2])];
    for (const n of [host, container]) {
      if (n !== undefined && (n < 1 || n > 65535)) this.error(pointer, `${n} is not a port number (1-65535)`);
    }
    const protocol = m[3] === 'udp' ? 'udp' : 'tcp';
    return host === undefined ? { container, protocol } : { container, host, protocol };
  }
}

export function resolveCluster(m: Manifest<'Cluster'>, diags: Diagnostics): DesiredCluster {
  const f = new Fields(m, diags);
  const { defaults, reconcile, failover } = m.spec;
  if (failover.maxPerHour !== undefined) {
    diags.warning(where(m, '/spec/failover/maxPerHour', 'key'), `${m.title}: spec.failover.maxPerHour is deprecated and ignored: `
      + 'a dead node\'s instances all fail over (one node, one event); failover.maxUnreachableShare stops failover when many nodes are unreachable at once, and failover.holdAfterFailures holds a flapping node');
  }
  return {
    name: m.name,
    labels: m.labels,
    backend: m.spec.backend,
    defaults: {
      memory: f.bytes('/spec/defaults/memory', defaults.memory),
      vcpus: defaults.vcpus,
      image: defaults.image,
      diskTemplate: defaults.diskTemplate,
      disks: f.disks('/spec/defaults/disks', defaults.disks),
    },
    policy: resolvePolicy(m, diags),
    reconcile: {
      intervalMs: f.ms('/spec/reconcile/interval', reconcile.interval),
      concurrency: { ...reconcile.concurrency },
      rebalance: reconcile.rebalance,
      maxUnavailable: f.budget('/spec/reconcile/maxUnavailable', reconcile.maxUnavailable),
    },
    failover: {
      automatic: failover.automatic,
      nodeDownAfterMs: f.ms('/spec/failover/nodeDownAfter', failover.nodeDownAfter),
      maxUnreachableShare: failover.maxUnreachableShare,
      holdAfterFailures: failover.holdAfterFailures,
      ...(failover.fenceCommand && { fenceCommand: failover.fenceCommand }),
    },
    replication: { intervalMs: f.ms('/spec/replication/interval', m.spec.replication.interval), ...(m.spec.replication.mode === 'async' && { mode: 'async' as const }) },
    docker: {
      ...(m.spec.docker.helperImage !== undefined && { helperImage: m.spec.docker.helperImage }),
      checkpointTimeoutMs: f.ms('/spec/docker/checkpointTimeout', m.spec.docker.checkpointTimeout),
    },
    sim: { latencyMs: f.ms('/spec/sim/latency', m.spec.sim.latency) },
    ...(m.spec.macPrefix !== undefined && { macPrefix: resolveMacPrefix(m, diags) }),
    source: m.doc.root,
  };
}

/** A `ganeti.drover.io/` label whose value its key cannot use (hand-edited after import), at the label. */
function labelProblems(m: Manifest, problems: readonly LabelProblem[], diags: Diagnostics): void {
  for (const p of problems) diags.error(where(m, `/metadata/labels/${p.key.replace(/~/g, '~0').replace(/\//g, '~1')}`), `${m.title}: label ${p.key}: ${p.message}`);
}

export function resolveNode(m: Manifest<'Node'>, diags: Diagnostics): DesiredNode {
  const f = new Fields(m, diags);
  labelProblems(m, ganetiNodeFields(m.labels).problems, diags);
  const { spec } = m;
  // TLS paths are relative to the manifest that names them, not to wherever drover runs.
  const base = dirname(m.doc.file);
  const tls = spec.tls && {
    ca: resolvePath(base, spec.tls.ca),
    cert: resolvePath(base, spec.tls.cert),
    key: resolvePath(base, spec.tls.key),
  };
  return {
    name: m.name,
    labels: m.labels,
    cluster: spec.cluster,
    ...(spec.endpoint !== undefined && { endpoint: spec.endpoint }),
    ...(tls && { tls }),
    ...(spec.capacity && { capacity: capacity(f, spec.capacity) }),
    ...(spec.capacity?.spindles !== undefined && { spindles: spec.capacity.spindles }),
    group: spec.group,
    drained: spec.drained,
    offline: spec.offline,
    source: m.doc.root,
  };
}

function capacity(f: Fields, c: NonNullable<Manifest<'Node'>['spec']['capacity']>): Partial<NodeCapacity> {
  return {
    ...(c.memory !== undefined && { memory: f.bytes('/spec/capacity/memory', c.memory) }),
    ...(c.vcpus !== undefined && { vcpus: c.vcpus }),
    ...(c.disk !== undefined && { disk: f.bytes('/spec/capacity/disk', c.disk) }),
  };
}

export function resolveInstance(m: Manifest<'Instance'>, cluster: DesiredCluster, diags: Diagnostics): DesiredInstance {
  const f = new Fields(m, diags);
  labelProblems(m, ganetiInstanceFields(m.labels, m.spec.state, 0).problems, diags);
  const { spec } = m;
  const d = cluster.defaults;
  const vm = spec.hypervisor === 'kvm' ? vmFields(f, m) : containerOnly(f, spec);
  return {
    name: m.name,
    labels: m.labels,
    ...(m.renamedFrom !== undefined && { renamedFrom: m.renamedFrom }),
    cluster: spec.cluster,
    image: spec.image ?? d.image,
    ...vm,
    memory: spec.memory === undefined ? d.memory : f.bytes('/spec/memory', spec.memory),
    vcpus: spec.vcpus ?? d.vcpus,
    diskTemplate: spec.diskTemplate ?? d.diskTemplate,
    disks: spec.disks === undefined ? d.disks : f.disks('/spec/disks', spec.disks),
    state: spec.state,
    ...(spec.primary !== undefined && { primary: spec.primary }),
    ...(spec.secondary !== undefined && { secondary: spec.secondary }),
    antiAffinity: spec.antiAffinity,
    env: spec.env,
    ...(spec.command !== undefined && { command: spec.command }),
    ports: spec.ports.map((p, i) => f.port(`/spec/ports/${i}`, p)),
    ...(spec.health && { health: f.health('/spec/health', spec.health) }),
    ...(spec.nics.length > 0 && { nics: resolveNics(m, spec.nics, diags) }),
    source: m.doc.root,
    ...((spec.disks?.length || spec.nics.length) && { fieldSources: Object.fromEntries([
      ...(spec.disks ?? []).map((_, i) => [`disks[${i}].size`, where(m, `/spec/disks/${i}/size`)] as const),
      ...spec.nics.map((_, i) => [`nics[${i}]`, where(m, `/spec/nics/${i}`)] as const),
    ]) }),
  };
}

/**
 * A VM's fields (`hypervisor: kvm`): its image and boot files are files on the master, relative to the
 * manifest (checked when files are read: manifest/vm.ts); its disks are block devices, so a mount path is an
 * error, and so is what only a container has (a command, published ports).
 */
function vmFields(f: Fields, m: Manifest<'Instance'>): Pick<DesiredInstance, 'image' | 'hypervisor' | 'boot' | 'machine'> {
  const { spec } = m;
  const base = dirname(m.doc.file);
  spec.disks?.forEach((disk, i) => {
    if (disk.mount !== undefined) f.error(`/spec/disks/${i}/mount`, 'a VM\'s disks are block devices (hypervisor: kvm): no mount path; the guest mounts its disks itself');
  });
  if (spec.command !== undefined) f.error('/spec/command', 'a VM (hypervisor: kvm) runs no command: it boots its image or kernel');
  if (spec.ports.length > 0) f.error('/spec/ports', 'a VM (hypervisor: kvm) publishes no ports (guest networking is not supported yet)');
  if (Object.keys(spec.env).length > 0) f.error('/spec/env', 'a VM (hypervisor: kvm) has no environment: pass settings on the kernel command line (boot.cmdline)');
  // a check exec'd in the VM's container would probe QEMU, not the guest
  if (spec.health !== undefined) f.error('/spec/health', 'health checks of VMs (hypervisor: kvm) are not supported yet');
  if (spec.image === undefined && spec.boot === undefined) f.error('/spec/hypervisor', 'a VM needs an image (the disk image disk 0 starts from) or a boot kernel');
  const boot = spec.boot && {
    kernel: resolvePath(base, spec.boot.kernel),
    ...(spec.boot.initrd !== undefined && { initrd: resolvePath(base, spec.boot.initrd) }),
    ...(spec.boot.cmdline !== undefined && { cmdline: spec.boot.cmdline }),
  };
  return {
    image: spec.image === undefined ? '' : resolvePath(base, spec.image),
    hypervisor: 'kvm',
    ...(boot && { boot }),
    ...(spec.machine !== undefined && { machine: spec.machine }),
  };
}

/** A container has no boot files or machine type. */
function containerOnly(f: Fields, spec: Manifest<'Instance'>['spec']): Record<string, never> {
  if (spec.boot !== undefined) f.error('/spec/boot', 'only a VM boots a kernel: set hypervisor: kvm');
  if (spec.machine !== undefined) f.error('/spec/machine', 'only a VM has a machine type: set hypervisor: kvm');
  return {};
}
