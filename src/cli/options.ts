import { InvalidArgumentError } from 'commander';

/** `30s`, `15m`, `2h`, `1d` or plain milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a duration: use e.g. 90s, 30m, 2h or 1d.`);
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return Math.round(Number(match[1]) * units[match[2] ?? 'ms']!);
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    throw new InvalidArgumentError(`"${value}" is not a port: use a whole number from 1 to 65535 (0 picks a free one).`);
  }
  return port;
}

/** A whole number of at least 1. */
export function parseCount(value: string): number {
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < 1) throw new InvalidArgumentError(`"${value}" is not a count: use a whole number of at least 1.`);
  return count;
}
