/** One row of bench-results.json: our figure, the same-process baseline's, and their ratio. */
export interface BenchEntry {
  /** e.g. "acquire p50", "dispatch warm p50". */
  name: string;
  ours: number;
  baseline: number;
  baselineName: string;
  /** ours / baseline, so lower is better for times and higher is better for rates; `goal` says which. */
  ratio: number;
  unit: string;
  /** The goal in words, e.g. "ratio <= 1.10". */
  goal?: string;
  met?: boolean;
  /** Anything else worth keeping (sample counts, p95, p99, heap figures). */
  details?: Record<string, number | string>;
}
