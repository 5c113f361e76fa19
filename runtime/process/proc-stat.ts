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

/**
 * Whether some process still belongs to process group `pgid` (Linux: read from
 * /proc). While one does, the number cannot be given to another process, so
 * it still names that group, its leader gone or not.
 */
export function groupAlive(pgid: number): boolean {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return false; // No /proc: never signal a group whose leader is gone.
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    try {
      if (Number(procStat(entry)[2]) === pgid) return true;
    } catch {
      // It ended while we looked.
    }
  }
  return false;
}
