/** A plan as people read it (Terraform's style) and as scripts read it (--json). */
import type { Operation } from '../../model/operations.ts';
import type { Plan } from '../../plan/index.ts';
import { formatDuration } from '../../model/quantity.ts';
import { formatError } from '../../manifest/index.ts';

const SYMBOL: Readonly<Record<Operation['type'], string>> = {
  CreateInstance: '+', RemoveInstance: '-', RemoveOrphan: '-', RecreateInstance: '-/+',
  StartInstance: '~', StopInstance: '~', SyncDisks: '~', ReplaceSecondary: '~',
  MigrateInstance: '>', MoveInstance: '>', FailoverInstance: '!',
};

export function describe(op: Operation, now?: number): string {
  switch (op.type) {
    case 'CreateInstance': return `on ${op.primary}${op.secondary ? `, replica on ${op.secondary}` : ''}${op.start ? '' : ' (stopped)'}`;
    case 'SyncDisks': return `${op.primary} → ${op.secondary}`;
    case 'StartInstance':
    case 'StopInstance':
    case 'RecreateInstance': return `on ${op.primary}`;
    case 'MigrateInstance': return `${op.from} → ${op.to} (roles swap)`;
    case 'MoveInstance': return `${op.from} → ${op.to}${op.secondary ? `, replica stays on ${op.secondary}` : ''}`;
    case 'FailoverInstance': return `${op.from} → ${op.to}, ${op.recoveryPoint ? `recovery point ${new Date(op.recoveryPoint).toISOString()}${now ? ` (${formatDuration(now - op.recoveryPoint)} of writes lost)` : ''}` : 'replica never synced: its disks start empty'}`;
    case 'ReplaceSecondary': return `${op.from ? `${op.from} → ` : ''}${op.to} (primary ${op.primary})`;
    case 'RemoveInstance': return [op.primary && `from ${op.primary}`, op.secondary && `replica on ${op.secondary}`].filter(Boolean).join(', ');
    case 'RemoveOrphan': return `on ${op.node}: ${[op.containers && 'container', op.volumes && 'disks'].filter(Boolean).join(' and ')}`;
  }
}

export function renderPlanText(p: Plan, now: number): string {
  const lines: string[] = [];
  for (const e of p.errors) lines.push(formatError(e));
  if (p.operations.length === 0) {
    lines.push(p.errors.length ? '' : 'No changes. The nodes match the manifests.');
  } else {
    lines.push('Drover will perform the following operations:', '');
    const width = Math.max(...p.operations.map((o) => o.type.length));
    const nameWidth = Math.max(...p.operations.map((o) => o.instance.length));
    for (const op of p.operations) {
      lines.push(`  ${SYMBOL[op.type].padEnd(3)} ${op.type.padEnd(width)}  ${op.instance.padEnd(nameWidth)}  ${describe(op, now)}`);
      lines.push(`      ${' '.repeat(width + nameWidth + 2)}  # ${op.reason}`);
    }
    lines.push('', summaryLine(p.operations));
  }
  for (const w of p.warnings) lines.push(`Warning: ${w}`);
  for (const x of p.pending) lines.push(`Pending: ${x.instance}: ${x.reason}`);
  return lines.join('\n');
}

export function summaryLine(ops: readonly Operation[]): string {
  const count = (types: Operation['type'][]) => ops.filter((o) => types.includes(o.type)).length;
  const add = count(['CreateInstance']);
  const change = count(['StartInstance', 'StopInstance', 'SyncDisks', 'ReplaceSecondary', 'RecreateInstance']);
  const move = count(['MigrateInstance', 'MoveInstance', 'FailoverInstance']);
  const remove = count(['RemoveInstance', 'RemoveOrphan']);
  return `Plan: ${add} to create, ${change} to change, ${move} to move, ${remove} to remove.`;
}

/** The JSON form: `{"operations":[{type,instance,primary,secondary,from,to,reason}...],"warnings":[...]}`. */
export function planJson(p: Plan): object {
  return {
    operations: p.operations.map(opJson),
    warnings: p.warnings,
    errors: p.errors.map((e) => ({ ...(e.instance && { instance: e.instance }), message: e.message, ...(e.source && { file: e.source.file, line: e.source.line, column: e.source.column }) })),
    pending: p.pending,
  };
}

export function opJson(op: Operation): object {
  const { spec: _spec, disks: _disks, ...rest } = op as Operation & { spec?: unknown; disks?: unknown };
  return rest;
}
