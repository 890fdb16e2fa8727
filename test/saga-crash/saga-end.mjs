/**
 * What the saga crash-test orchestrator children share: waiting until their one saga ends, and
 * the exit status that says whether it did.
 */
import { TERMINAL_SAGA_STATUSES } from '@converge/core';

/**
 * Polls saga `sagaId` until it is final or needs attention, for at most `timeoutMs`; returns its
 * last record (undefined when there is none).
 */
export async function untilSagaEnds(storage, sagaId, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let record;
  while (Date.now() < deadline) {
    record = await storage.sagas.get(sagaId);
    if (
      record !== undefined &&
      (TERMINAL_SAGA_STATUSES.has(record.status) || record.status === 'needs-attention')
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return record;
}

/** Exits with status 1, saying why on stderr, unless `record` is final. */
export function exitUnlessFinal(record, sagaId) {
  if (record !== undefined && TERMINAL_SAGA_STATUSES.has(record.status)) return;
  console.error(`saga ${sagaId} did not end within 60 s: ${record?.status} ${record?.reason ?? ''}`);
  process.exit(1);
}
