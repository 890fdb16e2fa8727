/**
 * What the saga crash-test orchestrator children share: waiting until their one saga ends, and
 * the exit status that says whether it did.
 */
import { TERMINAL_SAGA_STATUSES } from '@converge/core';

/** How long a child waits for its saga: generous, since CI runs other suites beside this one. */
const WAIT_MS = 120_000;

/**
 * Polls saga `sagaId` until it is final or needs attention, for at most `timeoutMs` (default 120 s); returns its
 * last record (undefined when there is none).
 */
export async function untilSagaEnds(storage, sagaId, timeoutMs = WAIT_MS) {
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
  console.error(
    `saga ${sagaId} did not end within ${WAIT_MS / 1000} s: ${record?.status} ${record?.reason ?? ''}`,
  );
  process.exit(1);
}
