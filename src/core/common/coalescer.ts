/**
 * Runs `work` so that calls arriving while it runs coalesce into one more run after it: a burst of
 * change events costs at most two reads, and every caller's promise settles after a run that began
 * after its call. `keepGoing` stops the repeat once the owner is closed.
 */
export class Coalescer<T> {
  private running: Promise<T> | undefined;
  private again = false;

  constructor(
    private readonly work: () => Promise<T>,
    private readonly keepGoing: () => boolean = () => true,
  ) {}

  run(): Promise<T> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        let result: T;
        do {
          this.again = false;
          result = await this.work();
        } while (this.again && this.keepGoing());
        return result;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
