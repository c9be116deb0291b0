/** A plan as people read it (Terraform's style) and as scripts read it (--json). */
import { downtimeOf, recoveryPointOf, type ColdCause, type Disruption, type Downtime, type MigrationForecast, type Operation, type RecoveryPoint } from '../../model/operations.ts';
import type { Plan } from '../../plan/index.ts';
import type { Desired } from '../../model/desired.ts';
import type { Observed } from '../../model/observed.ts';
import type { NicBinding } from '../../model/nics.ts';
import { formatDuration } from '../../model/quantity.ts';
import { describeCause } from '../../plan/reasons.ts';
import { formatError } from '../../manifest/index.ts';

const SYMBOL: Readonly<Record<Operation['type'], string>> = {
  CreateInstance: '+', RemoveInstance: '-', RemoveOrphan: '-', RecreateInstance: '-/+',
  StartInstance: '~', StopInstance: '~', SyncDisks: '~', ReplaceSecondary: '~',
  MigrateInstance: '>', MoveInstance: '>', FailoverInstance: '!', RenameInstance: '~',
  ModifyInstance: '~', RestartInstance: '~', GrowDisk: '~',
};

export function describe(op: Operation, now?: number): string {
  switch (op.type) {
    case 'CreateInstance': return `on ${op.primary}${op.secondary ? `, replica on ${op.secondary}` : ''}${op.start ? '' : ' (stopped)'}`;
    case 'SyncDisks': return `${op.primary} → ${op.secondary}`;
    case 'StartInstance':
    case 'StopInstance':
    case 'RecreateInstance':
    case 'ModifyInstance':
    case 'RestartInstance': return `on ${op.primary}`;
    case 'GrowDisk': return `on ${op.primary}${op.secondary ? ` and its replica on ${op.secondary}` : ''}`;
    case 'MigrateInstance': return `${op.from} → ${op.to} (roles swap${op.expected ? `; ${forecastText(op.expected)}` : ''})`;
    case 'MoveInstance': return `${op.from} → ${op.to}${op.secondary ? `, replica stays on ${op.secondary}` : ''}`;
    case 'FailoverInstance': return `${op.from} → ${op.to}`;
    case 'ReplaceSecondary': return `${op.from ? `${op.from} → ` : ''}${op.to} (primary ${op.primary})`;
    case 'RenameInstance': return `${op.from} → ${op.instance} on ${op.primary}${op.secondary ? `, replica on ${op.secondary}` : ''}, in place (${op.disruption === 'none' ? 'keeps running' : op.disruption}; disks and data stay)`;
    case 'RemoveInstance': return [op.primary && `from ${op.primary}`, op.secondary && `replica on ${op.secondary}`].filter(Boolean).join(', ');
    case 'RemoveOrphan': return `on ${op.node}: ${[op.containers && 'container', op.volumes && 'disks'].filter(Boolean).join(' and ')}`;
  }
}

const DOWNTIME: Readonly<Record<Downtime, string>> = {
  none: 'no downtime', freeze: 'paused for its final sync', restart: 'down for a restart', recreate: 'down while it is recreated',
  move: 'down while it moves', 'already-down': 'down already (its node is gone)', stop: 'stops', start: 'starts', remove: 'removed',
};

const DISRUPTION: Readonly<Record<Disruption, string>> = { none: 'in place', restart: 'restart', recreate: 'recreate, disks kept' };

/** "in place: no downtime", "down while it moves; recovery point: none lost (final sync while stopped)". */
export function impactText(op: Operation, now?: number): string {
  const rp = recoveryPointOf(op);
  if (!('disruption' in op) && !rp) return ''; // new work, replicas, start/stop/remove: the operation says it
  const how = 'disruption' in op ? `${DISRUPTION[op.disruption]}: ` : '';
  return `${how}${DOWNTIME[downtimeOf(op)]}${rp ? `; recovery point: ${recoveryText(rp, now)}` : ''}`;
}

export function recoveryText(rp: RecoveryPoint, now?: number): string {
  switch (rp.kind) {
    case 'none-lost': return `none lost (final sync while ${rp.finalSync})`;
    case 'in-sync': return `none lost (synchronous mirror, in sync when last seen at ${new Date(rp.seenAt).toISOString()})`;
    case 'last-sync': return `${new Date(rp.at).toISOString()}${now ? ` (${formatDuration(now - rp.at)} of writes lost)` : ''}`;
    case 'never-synced': return 'replica never synced: its disks start empty';
  }
}

/** `memory: 1G → 768M`, or what is known when the fields are not. */
export function changeLines(op: Operation): string[] {
  if (!('changes' in op)) return [];
  const lines = op.changes.map((c) => `${c.path}: ${c.from} → ${c.to}`);
  return op.fieldsUnknown ? [...lines, 'spec changed (fields unknown: applied by an older version)'] : lines;
}

/** The NICs an operation makes the container with: `nic0: lan 10.42.0.100, MAC 02:d7:00:c6:1b:40, bridged on br42`. */
export function nicLines(op: Operation): string[] {
  const nics = nicsOf(op);
  return nics.map((n, i) => `nic${i}: ${n.network} ${n.ip}, MAC ${n.mac}, ${n.mode} on ${n.link}`);
}

const nicsOf = (op: Operation): readonly NicBinding[] => ('spec' in op ? op.spec.nics ?? [] : []);

const COLD: Readonly<Record<ColdCause, (node?: string) => string>> = {
  backend: () => 'the backend cannot migrate live',
  stopped: () => 'it is stopped',
  ports: () => 'it publishes ports',
  'no-checkpoint': (node) => `${node ?? 'a node'} cannot checkpoint`,
  'fell-back': () => 'the live attempt fell back',
};

/** "live", "live if n1 can checkpoint (not probed yet)", "cold: it publishes ports". */
export function forecastText(f: MigrationForecast): string {
  if (f.path === 'cold') return `cold: ${COLD[f.cause](f.node)}`;
  return f.unprobed?.length ? `live if ${f.unprobed.join(' and ')} can checkpoint (not probed yet)` : 'live';
}

/** A node the plan could not ask (unreachable; offline ones are not expected to answer), and why. */
export interface UnaskedNode {
  readonly node: string;
  readonly error: string;
}

export function unaskedNodes(desired: Desired, observed: Observed): UnaskedNode[] {
  return [...observed.nodes.values()]
    .filter((n) => n.health === 'unreachable' && desired.nodes.get(n.name)?.offline !== true)
    .map((n) => ({ node: n.name, error: n.error ?? 'no answer' }));
}

/** The plan as shown: first a warning per node it could not ask, since it holds only for the others. */
export function withUnasked(p: Plan, unasked: readonly UnaskedNode[]): Plan {
  const warnings = unasked.map((u) => `node ${u.node} could not be asked, so what runs there is not in this plan: ${u.error}`);
  return { ...p, warnings: [...warnings, ...p.warnings] };
}

/** "No changes" claims the nodes match only when every node answered. */
export function noChangesLine(unasked: number): string {
  return unasked === 0 ? 'No changes. The nodes match the manifests.'
    : `No changes on the nodes that answered; ${unasked} node${unasked === 1 ? '' : 's'} could not be asked (see the warnings).`;
}

export function renderPlanText(p: Plan, now: number, unasked = 0): string {
  const lines: string[] = [];
  for (const e of p.errors) lines.push(formatError(e));
  const all = allOperations(p);
  if (all.length === 0) {
    lines.push(p.errors.length ? '' : noChangesLine(unasked));
  } else {
    lines.push('Drover will perform the following operations:', '');
    const width = Math.max(...all.map((o) => o.type.length));
    const nameWidth = Math.max(...all.map((o) => o.instance.length));
    for (const op of all) {
      const wave = p.waves[op.instance];
      lines.push(`  ${SYMBOL[op.type].padEnd(3)} ${op.type.padEnd(width)}  ${op.instance.padEnd(nameWidth)}  ${describe(op, now)}${wave ? `  [wave ${wave}]` : ''}`);
      const pad = `      ${' '.repeat(width + nameWidth + 2)}  `;
      const impact = impactText(op, now);
      lines.push(`${pad}# ${describeCause(op.cause)}${impact && `; ${impact}`}`);
      for (const c of changeLines(op)) lines.push(`${pad}  ${c}`);
      for (const n of nicLines(op)) lines.push(`${pad}  ${n}`);
    }
    lines.push('', summaryLine(all), ...waveLines(p));
  }
  for (const w of p.warnings) lines.push(`Warning: ${w}`);
  for (const x of p.pending) lines.push(pendingLine(x));
  return lines.join('\n');
}

/** What this run does now, then the later waves of its rolling updates. */
export const allOperations = (p: Plan): readonly Operation[] => [...p.operations, ...p.deferred];

/** "wave 1: web1", "wave 2: web2 (once wave 1 runs again)": the rolling updates, one line per wave. */
export function waveLines(p: Plan): string[] {
  const byWave = new Map<number, string[]>();
  for (const [instance, wave] of Object.entries(p.waves)) byWave.set(wave, [...(byWave.get(wave) ?? []), instance]);
  if (!byWave.size) return [];
  const waves = [...byWave.keys()].sort((a, b) => a - b);
  return ['Rolling update (reconcile.maxUnavailable members of an antiAffinity group down at a time):',
    ...waves.map((w) => `  wave ${w}: ${byWave.get(w)!.sort().join(', ')}${w > 1 ? ` (after wave ${w - 1} runs again, and passes its health checks where declared)` : ''}`)];
}

export function summaryLine(ops: readonly Operation[]): string {
  const count = (types: Operation['type'][]) => ops.filter((o) => types.includes(o.type)).length;
  const add = count(['CreateInstance']);
  const change = count(['StartInstance', 'StopInstance', 'SyncDisks', 'ReplaceSecondary', 'RecreateInstance', 'RenameInstance', 'ModifyInstance', 'RestartInstance', 'GrowDisk']);
  const move = count(['MigrateInstance', 'MoveInstance', 'FailoverInstance']);
  const remove = count(['RemoveInstance', 'RemoveOrphan']);
  return `Plan: ${add} to create, ${change} to change, ${move} to move, ${remove} to remove.`;
}

export const pendingLine = (x: Plan['pending'][number]): string => `Pending: ${x.instance}: ${describeCause(x.cause)}`;

/**
 * The JSON form: `{"operations":[{type,instance,primary,secondary,from,to,reason,cause,wave,nics}...],"warnings":[...],
 * "pending":[{instance,reason,cause,retryAt}]}`. `reason` is the sentence, `cause` the same as data;
 * `wave` is set on the operations of a rolling update: wave 1 runs now, later ones once it runs again.
 */
export function planJson(p: Plan): object {
  return {
    operations: allOperations(p).map((op) => opJson(op, p.waves[op.instance])),
    warnings: p.warnings,
    errors: p.errors.map((e) => ({
      ...(e.instance && { instance: e.instance }), message: e.message, ...(e.cause && { cause: e.cause }),
      ...(e.source && { file: e.source.file, line: e.source.line, column: e.source.column }),
    })),
    pending: p.pending.map((x) => ({ instance: x.instance, reason: describeCause(x.cause), cause: x.cause, ...(x.retryAt !== undefined && { retryAt: x.retryAt }) })),
  };
}

/** `changes` ([{path, from, to}]) and `disruption` on the operations that change a spec; `downtime` (and `recovery` for moves) on all. */
export function opJson(op: Operation, wave?: number): object {
  const { spec: _spec, disks: _disks, ...rest } = op as Operation & { spec?: unknown; disks?: unknown };
  const rp = recoveryPointOf(op);
  const nics = nicsOf(op);
  return { ...rest, reason: describeCause(op.cause), downtime: downtimeOf(op), ...(rp && { recovery: rp }), ...(wave !== undefined && { wave }), ...(nics.length && { nics }) };
}
