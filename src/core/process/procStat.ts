import { readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat (Linux) the core uses. */
export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot. With the pid it survives pid reuse. */
  startTime: string;
  /** One-letter scheduler state; `Z` (zombie) and `X` (dead) cannot run again. */
  state: string;
  /** Fields 14 and 15, utime + stime: CPU time used so far, in clock ticks (USER_HZ, see CLOCK_TICKS_PER_SECOND). */
  cpuTicks: number;
}

/**
 * USER_HZ, the unit of /proc's CPU times. Node has no sysconf(_SC_CLK_TCK); the kernel fixes USER_HZ at
 * 100 for /proc on every architecture Node runs on (alpha's 1024 aside), whatever the kernel's own HZ.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * The one parser of /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses,
 * so fields are counted from its last ')'. Undefined for anything that is not a whole stat line.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(' ')));
  // afterName[0] is field 3 (state), so field n is afterName[n - 3].
  const afterName = text.slice(close + 2).split(' ');
  const state = afterName[0];
  const startTime = afterName[19];
  if (!state || !startTime || !/^\d+$/.test(startTime)) return undefined;
  const cpuTicks = Number(afterName[11]) + Number(afterName[12]);
  return { pid, state, ppid: Number(afterName[1]), pgid: Number(afterName[2]), startTime, cpuTicks: Number.isFinite(cpuTicks) ? cpuTicks : 0 };
}

/** Reads /proc/<pid>/stat synchronously; undefined when the process is gone or /proc is unavailable. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}
