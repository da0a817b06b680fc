/**
 * Checks the shape of JSON read from files other processes wrote (registry records, slot leases).
 * Hand-written rather than a schema library: these records are flat, and loading a schema library
 * at activation cost more than the checks themselves.
 */
export type FieldCheck = (value: unknown) => string | undefined;

export const text =
  (options: { minLength?: number; pattern?: RegExp } = {}): FieldCheck =>
  (value) => {
    if (typeof value !== 'string') return 'expected a string';
    if (options.minLength !== undefined && value.length < options.minLength) return `expected at least ${options.minLength} characters`;
    if (options.pattern && !options.pattern.test(value)) return `does not match ${options.pattern}`;
    return undefined;
  };

export const number =
  (options: { integer?: boolean; min?: number; max?: number } = {}): FieldCheck =>
  (value) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return 'expected a number';
    if (options.integer && !Number.isInteger(value)) return 'expected a whole number';
    if (options.min !== undefined && value < options.min) return `expected at least ${options.min}`;
    if (options.max !== undefined && value > options.max) return `expected at most ${options.max}`;
    return undefined;
  };

/** The largest pid any platform hands out fits in 31 bits (kill(2) takes an int). */
export const MAX_PID = 2 ** 31 - 1;
/** A process id: a whole number from 1 to MAX_PID (0 and -1 would name process groups). */
export const pidNumber = (): FieldCheck => number({ integer: true, min: 1, max: MAX_PID });
/** Wall-clock ms that a Date can show: from 1970 to the year 275760 (beyond, toISOString throws). */
export const wallTime = (): FieldCheck => number({ min: 0, max: 8.64e15 });
/** A counter: a whole number from 0 up to what a double counts exactly. */
export const count = (): FieldCheck => number({ integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });

export const literal =
  (expected: unknown): FieldCheck =>
  (value) =>
    value === expected ? undefined : `expected ${JSON.stringify(expected)}`;

export const oneOf =
  (allowed: readonly string[]): FieldCheck =>
  (value) =>
    typeof value === 'string' && allowed.includes(value) ? undefined : `expected one of ${allowed.join(', ')}`;

export const listOf =
  (item: FieldCheck): FieldCheck =>
  (value) => {
    if (!Array.isArray(value)) return 'expected an array';
    const problem = value.map(item).find((p) => p !== undefined);
    return problem && `item: ${problem}`;
  };

export const optional =
  (check: FieldCheck): FieldCheck =>
  (value) =>
    value === undefined ? undefined : check(value);

/** Every problem as `field: problem; …`, or undefined when the value has the shape. */
export function shapeProblems(value: unknown, fields: Record<string, FieldCheck>): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return '(root): expected an object';
  const record = value as Record<string, unknown>;
  const problems = Object.entries(fields).flatMap(([name, check]) => {
    const problem = check(record[name]);
    return problem ? [`${name}: ${problem}`] : [];
  });
  return problems.length ? problems.join('; ') : undefined;
}
