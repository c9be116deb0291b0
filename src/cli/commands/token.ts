import { parseArgs } from 'node:util';
import { ROLES, TokenFile, type Role } from '../../api/tokens.ts';
import { EXIT, STORE_OPTIONS, stateDirOf, UsageError, type Io } from '../io.ts';
import { table } from '../render/table.ts';

export const usage = `drover token create NAME --role viewer|operator | list | revoke NAME [--json]
  Bearer tokens for the master's API and dashboard (watch --listen, serve). A viewer reads; an
  operator also acts (reconcile, drain, migrate, failover, lease break), journaled under NAME.
  Kept hashed in the state directory (api-tokens.json): the token is printed once, at creation.`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { role: { type: 'string' }, json: { type: 'boolean' }, ...STORE_OPTIONS } });
  const [verb, name, ...extra] = positionals;
  const tokens = new TokenFile(stateDirOf(values['state-dir']));
  if (extra.length) throw new UsageError(usage);
  switch (verb) {
    case 'create': {
      if (!name) throw new UsageError(usage);
      if (!ROLES.includes(values.role as Role)) throw new UsageError(`--role: "${values.role ?? ''}" is not one of ${ROLES.join(', ')}`);
      let secret: string;
      try { secret = tokens.create(name, values.role as Role); } catch (e) { throw new UsageError((e as Error).message); }
      if (values.json) io.out(JSON.stringify({ name, role: values.role, token: secret }));
      else { io.out(secret); io.err(`Token ${name} (${values.role}) created. It is shown this once: keep it now.`); }
      return EXIT.ok;
    }
    case 'list': {
      if (name) throw new UsageError(usage);
      const list = tokens.list().map(({ name: n, role, createdAt }) => ({ name: n, role, createdAt: new Date(createdAt).toISOString() }));
      if (values.json) io.out(JSON.stringify({ tokens: list }));
      else io.out(list.length ? table(['Name', 'Role', 'Created'], list.map((t) => [t.name, t.role, t.createdAt])) : 'No tokens.');
      return EXIT.ok;
    }
    case 'revoke': {
      if (!name) throw new UsageError(usage);
      if (!tokens.revoke(name)) { io.err(`drover token: no token named ${name}`); return EXIT.error; }
      io.out(`Token ${name} revoked; its sessions end at their next request.`);
      return EXIT.ok;
    }
    default: throw new UsageError(usage);
  }
}
