/**
 * The read routes' response shapes, for the OpenAPI document (and fastify's serializer). Open
 * (additionalProperties) where the record may carry more than is described: nothing is dropped.
 */
const str = { type: 'string' } as const;
const num = { type: 'number' } as const;
const bool = { type: 'boolean' } as const;
const used = { type: 'object', properties: { total: num, used: num } } as const;
const open = <P extends object>(properties: P, required: readonly string[] = []) => ({ type: 'object', additionalProperties: true, properties, ...(required.length && { required }) }) as const;
const list = <I extends object>(items: I) => ({ type: 'array', items }) as const;

export const INSTANCE = open({
  name: str, cluster: str, state: { ...str, description: 'running, stopped, missing, node-down (primary unreachable), unplaced, absent' }, desiredState: str,
  primary: str, secondary: str, diskTemplate: str, image: str, memory: { ...num, description: 'bytes' }, vcpus: num,
  disks: list(open({ size: num, mount: str })), degraded: bool, recoveryPoint: { ...num, description: 'ms since epoch of the replica\'s last good sync (absent while a VM\'s mirror is in sync)' },
  mirror: { type: 'string', enum: ['in-sync', 'stopped'], description: 'a replicated VM\'s synchronous mirror: in sync (nothing would be lost) or stopped' },
}, ['name', 'state', 'degraded']);

export const NODE = open({
  name: str, cluster: str, group: str, health: { type: 'string', enum: ['up', 'unreachable', 'fenced'] }, flags: list(str),
  memory: used, vcpus: used, disk: used, primaries: num, secondaries: num, nodeDownSince: num, error: str, failoverBlocked: str,
  override: open({ drained: bool, by: str, at: num }),
}, ['name', 'health']);

export const CLUSTER = open({
  name: str, backend: str, nodes: open({ total: num, up: num, down: num, drained: num, offline: num }), memory: used, vcpus: used, disk: used,
  instances: open({ total: num, running: num, degraded: num }), n1: open({ ok: bool, failing: list(str) }), score: num, guards: list(str),
});

export const JOB = open({
  id: str, type: str, instance: str, by: { ...str, description: 'the API token\'s name, for an operator\'s request' }, reason: str,
  start: num, end: num, result: { type: 'string', enum: ['running', 'succeeded', 'failed', 'parked'] }, error: str, trigger: str,
}, ['id', 'type', 'result']);

export const FINDING = open({ code: str, severity: { type: 'string', enum: ['error', 'warning'] }, node: str, instance: str, message: str });
export const DRIFT = open({ instance: str, node: str, kind: str, detail: str, action: { type: 'string', enum: ['corrected', 'left'] } });

/** `{ at, KEY: [ITEM] }` and friends: what each read route answers. */
export const at = <P extends object>(properties: P) => ({ 200: open({ at: { ...num, description: 'ms since epoch: when the master observed the nodes' }, ...properties }) });
export { list, open };
