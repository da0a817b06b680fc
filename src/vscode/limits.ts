/** Parses the Scale Pool input "min-max" (also "min,max" or "min max"); undefined when it makes no sense. */
export function parseLimits(text: string): { minAgents: number; maxAgents: number } | undefined {
  const match = /^\s*(\d+)\s*[-–, ]\s*(\d+)\s*$/.exec(text);
  if (!match) return undefined;
  const [minAgents, maxAgents] = [Number(match[1]), Number(match[2])];
  return minAgents <= maxAgents && maxAgents >= 1 && maxAgents <= 256 ? { minAgents, maxAgents } : undefined;
}
