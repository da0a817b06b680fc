import { settingValue, type Settings } from '../config/settings';
import { SETTING_ROWS, settingName, type SettingApplies } from '../config/settingsTable';

/** Whether a settings change moves the pool sizes, which apply live to every running pool. */
export function sizesChanged(previous: Settings, next: Settings): boolean {
  return previous.pool.minAgents !== next.pool.minAgents || previous.pool.maxAgents !== next.pool.maxAgents;
}

/**
 * One sentence per kind of changed setting that is not live yet, naming the settings (from the
 * settings table's `applies`): those for new pools (said only while a pool runs) and those that
 * need a window reload.
 */
export function notLiveYet(previous: Settings, next: Settings, poolsRunning: boolean): string[] {
  const changed = SETTING_ROWS.filter((row) => JSON.stringify(settingValue(next, row)) !== JSON.stringify(settingValue(previous, row)));
  const names = (applies: SettingApplies) => changed.filter((row) => row.applies === applies).map(settingName);
  const notes: string[] = [];
  const forNewPools = names('new-pools');
  if (poolsRunning && forNewPools.length > 0) {
    notes.push(`${forNewPools.join(', ')} apply to pools started from now on: run "Agent Pool: Stop Pool" and "Start Pool" to apply them to the running pool.`);
  }
  if (previous.backend !== next.backend) {
    notes.push(`agentPool.backend is now "${next.backend}": switching moves nothing. Agents running now finish under the "${previous.backend}" backend; after a window reload, new ones take their slots from "${next.backend}".`);
  }
  const afterReload = names('reload');
  if (afterReload.length > 0) notes.push(`${afterReload.join(', ')} take effect after a window reload (Developer: Reload Window).`);
  return notes;
}
