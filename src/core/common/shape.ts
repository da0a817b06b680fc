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
  (options: { integer?: boolean; min?: number } = {}): FieldCheck =>
  (value) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return 'expected a number';
    if (options.integer && !Number.isInteger(value)) return 'expected a whole number';
    if (options.min !== undefined && value < options.min) return `expected at least ${options.min}`;
    return undefined;
  };

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
