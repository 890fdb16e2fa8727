/**
 * One clock for every benchmark process: `process.hrtime` reads CLOCK_MONOTONIC, which all
 * processes on one machine share, so a time taken in the producer and one taken in the consumer
 * process can be subtracted.
 */

/** Milliseconds on the machine's monotonic clock, with sub-millisecond precision. */
export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resolves after `ms`. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
