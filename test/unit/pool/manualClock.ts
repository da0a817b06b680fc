export { ManualClock } from '../../fixtures/manualClock';
