import { existsSync, readdirSync } from 'node:fs';

/** A Debian client tool (pgbench, psql) from the newest /usr/lib/postgresql/N/bin that has it. */
export function findClientTool(name: string): string {
  const root = '/usr/lib/postgresql';
  const dirs = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const d of dirs) if (existsSync(`${root}/${d}/bin/${name}`)) return `${root}/${d}/bin/${name}`;
  throw new Error(`${name} not found under ${root}/*/bin (apt-get install postgresql-15)`);
}
