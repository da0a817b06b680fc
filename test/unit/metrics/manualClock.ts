import { ManualClock as SharedClock } from '../../fixtures/manualClock';

/** The shared manual clock, starting at monotonic 0 as the metrics tests expect. */
export class ManualClock extends SharedClock {
  constructor() {
    super({ start: 0, wallAtStart: 1_700_000_000_000 });
  }
}
