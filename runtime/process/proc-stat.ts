import { fs } from '../fs.ts';

/**
 * A process's /proc/<pid>/stat (Linux), as the fields after its parenthesised
 * command name (which may hold spaces): `[0]` its state, `[1]` its parent's
 * pid, `[2]` its process group.
 * @throws when it cannot be read: the process is gone, or there is no /proc.
 */
export function procStat(pid: number | string): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
