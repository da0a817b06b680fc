import { integerRow } from '../core/config/settingsTable';

/**
 * Parses the Scale Pool input "min-max" (also "min,max" or "min max"); undefined when it makes no
 * sense. The bounds are those of the pool.minAgents and pool.maxAgents settings.
 */
export function parseLimits(text: string): { minAgents: number; maxAgents: number } | undefined {
  const match = /^\s*(\d+)\s*[-–, ]\s*(\d+)\s*$/.exec(text);
  if (!match) return undefined;
  const [minAgents, maxAgents] = [Number(match[1]), Number(match[2])];
  const min = integerRow('pool.minAgents');
  const max = integerRow('pool.maxAgents');
  const inRange = minAgents >= min.min && minAgents <= min.max && maxAgents >= max.min && maxAgents <= max.max;
  return inRange && minAgents <= maxAgents ? { minAgents, maxAgents } : undefined;
}
