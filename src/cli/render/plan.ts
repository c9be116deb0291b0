/** A plan as people read it (Terraform's style) and as scripts read it (--json). */
import type { ColdCause, MigrationForecast, Operation } from '../../model/operations.ts';
import type { Plan } from '../../plan/index.ts';
import type { Desired } from '../../model/desired.ts';
import type { Observed } from '../../model/observed.ts';
import { formatDuration } from '../../model/quantity.ts';
import { describeCause } from '../../plan/reasons.ts';
import { formatError } from '../../manifest/index.ts';

const SYMBOL: Readonly<Record<Operation['type'], string>> = {
  CreateInstance: '+', RemoveInstance: '-', RemoveOrphan: '-', RecreateInstance: '-/+',
  StartInstance: '~', StopInstance: '~', SyncDisks: '~', ReplaceSecondary: '~',
  MigrateInstance: '>', MoveInstance: '>', FailoverInstance: '!', RenameInstance: '~',
};

export function describe(op: Operation, now?: number): string {
  switch (op.type) {
    case 'CreateInstance': return `on ${op.primary}${op.secondary ? `, replica on ${op.secondary}` : ''}${op.start ? '' : ' (stopped)'}`;
    case 'SyncDisks': return `${op.primary} → ${op.secondary}`;
    case 'StartInstance':
    case 'StopInstance':
    case 'RecreateInstance': return `on ${op.primary}`;
    case 'MigrateInstance': return `${op.from} → ${op.to} (roles swap${op.expected ? `; ${forecastText(op.expected)}` : ''})`;
    case 'MoveInstance': return `${op.from} → ${op.to}${op.secondary ? `, replica stays on ${op.secondary}` : ''}`;
    case 'FailoverInstance': return `${op.from} → ${op.to}, ${op.recoveryPoint ? `recovery point ${new Date(op.recoveryPoint).toISOString()}${now ? ` (${formatDuration(now - op.recoveryPoint)} of writes lost)` : ''}` : 'replica never synced: its disks start empty'}`;
    case 'ReplaceSecondary': return `${op.from ? `${op.from} → ` : ''}${op.to} (primary ${op.primary})`;
    case 'RenameInstance': return `${op.from} → ${op.instance} on ${op.primary}${op.secondary ? `, replica on ${op.secondary}` : ''}, in place (${op.disruption === 'none' ? 'keeps running' : op.disruption}; disks and data stay)`;
    case 'RemoveInstance': return [op.primary && `from ${op.primary}`, op.secondary && `replica on ${op.secondary}`].filter(Boolean).join(', ');
    case 'RemoveOrphan': return `on ${op.node}: ${[op.containers && 'container', op.volumes && 'disks'].filter(Boolean).join(' and ')}`;
  }
}

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
  if (p.operations.length === 0) {
    lines.push(p.errors.length ? '' : noChangesLine(unasked));
  } else {
    lines.push('Drover will perform the following operations:', '');
    const width = Math.max(...p.operations.map((o) => o.type.length));
    const nameWidth = Math.max(...p.operations.map((o) => o.instance.length));
    for (const op of p.operations) {
      lines.push(`  ${SYMBOL[op.type].padEnd(3)} ${op.type.padEnd(width)}  ${op.instance.padEnd(nameWidth)}  ${describe(op, now)}`);
      lines.push(`      ${' '.repeat(width + nameWidth + 2)}  # ${describeCause(op.cause)}`);
    }
    lines.push('', summaryLine(p.operations));
  }
  for (const w of p.warnings) lines.push(`Warning: ${w}`);
  for (const x of p.pending) lines.push(pendingLine(x));
  return lines.join('\n');
}

export function summaryLine(ops: readonly Operation[]): string {
  const count = (types: Operation['type'][]) => ops.filter((o) => types.includes(o.type)).length;
  const add = count(['CreateInstance']);
  const change = count(['StartInstance', 'StopInstance', 'SyncDisks', 'ReplaceSecondary', 'RecreateInstance', 'RenameInstance']);
  const move = count(['MigrateInstance', 'MoveInstance', 'FailoverInstance']);
  const remove = count(['RemoveInstance', 'RemoveOrphan']);
  return `Plan: ${add} to create, ${change} to change, ${move} to move, ${remove} to remove.`;
}

export const pendingLine = (x: Plan['pending'][number]): string => `Pending: ${x.instance}: ${describeCause(x.cause)}`;

/**
 * The JSON form: `{"operations":[{type,instance,primary,secondary,from,to,reason,cause}...],"warnings":[...],
 * "pending":[{instance,reason,cause,retryAt}]}`. `reason` is the sentence, `cause` the same as data.
 */
export function planJson(p: Plan): object {
  return {
    operations: p.operations.map(opJson),
    warnings: p.warnings,
    errors: p.errors.map((e) => ({
      ...(e.instance && { instance: e.instance }), message: e.message, ...(e.cause && { cause: e.cause }),
      ...(e.source && { file: e.source.file, line: e.source.line, column: e.source.column }),
    })),
    pending: p.pending.map((x) => ({ instance: x.instance, reason: describeCause(x.cause), cause: x.cause, ...(x.retryAt !== undefined && { retryAt: x.retryAt }) })),
  };
}

export function opJson(op: Operation): object {
  const { spec: _spec, disks: _disks, ...rest } = op as Operation & { spec?: unknown; disks?: unknown };
  return { ...rest, reason: describeCause(op.cause) };
}
