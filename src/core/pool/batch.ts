import { errorMessage } from '../common/errors';

/** One prompt's place in a batch: its answer, or the error that ended it. */
export type BatchItemResult<T> = { index: number; ok: true; value: T } | { index: number; ok: false; error: Error; message: string };

export interface BatchResult<T> {
  /** In the order of the input, whatever order they finished in. */
  results: BatchItemResult<T>[];
  succeeded: number;
  failed: number;
}

/**
 * Runs `run` over `items` with at most `concurrency` in flight, and returns every outcome in input
 * order (seed 001's execute_batch + aggregate_results). A failure fills its own slot and never stops
 * the others; an aborted signal starts no further item (those not started fail with the abort reason).
 */
export async function runBatch<I, T>(items: readonly I[], concurrency: number, run: (item: I, index: number) => Promise<T>, signal?: AbortSignal): Promise<BatchResult<T>> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`batch concurrency must be a whole number of at least 1, got ${JSON.stringify(concurrency)}`);
  const results = new Array<BatchItemResult<T>>(items.length);
  let next = 0;
  const fail = (index: number, error: unknown): BatchItemResult<T> => {
    const asError = error instanceof Error ? error : new Error(errorMessage(error));
    return { index, ok: false, error: asError, message: asError.message };
  };
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) {
      if (signal?.aborted) {
        results[index] = fail(index, signal.reason ?? new Error('the batch was cancelled before this prompt started'));
        continue;
      }
      try {
        results[index] = { index, ok: true, value: await run(items[index], index) };
      } catch (error) {
        results[index] = fail(index, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  const succeeded = results.filter((result) => result.ok).length;
  return { results, succeeded, failed: results.length - succeeded };
}
