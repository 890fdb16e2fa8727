/**
 * What an operator does with a dead letter, from any process (the CLI, an admin endpoint): ask
 * for a replay, or archive it. Both only change the dead letter's status and add to its audit
 * trail, in one transaction of the consumer's database. The replay itself is done by the running
 * consumer, which has the handler: its retry loop picks up dead letters in `replaying` and runs
 * them through the same inbox (see `MessageProcessor.replay`), so an effect is never applied twice
 * and the key's order holds.
 */
import { ConvergeError } from '../core/errors.js';
import type { StoredDeadLetter } from '../ports/inbox-store.js';
import type { Storage } from '../ports/storage.js';

/** Who acts, and why: both go into the audit trail. */
export interface OperatorAction {
  /** A person or tool, e.g. 'alice' or 'converge dlq replay'. */
  readonly actor: string;
  /** Why, in a sentence: 'contract service fixed (INC-123)'. */
  readonly reason: string;
}

/**
 * Asks the consumer of dead letter `id` to replay it. Resolves once the request is recorded; the
 * consumer replays it within its retry poll interval and records the outcome in the audit trail.
 *
 * @throws ConvergeError `DEAD_LETTER_NOT_FOUND`, `DEAD_LETTER_NOT_OPEN` (already replaying,
 *   replayed or archived), `DEAD_LETTER_NOT_REPLAYABLE` (no key, or its payload was cut at the cap:
 *   archive it instead), `CONFIG_INVALID` (missing actor or reason).
 */
export async function requestDeadLetterReplay(
  storage: Storage,
  id: number,
  action: OperatorAction,
): Promise<StoredDeadLetter> {
  checkAction(action);
  const letter = await find(storage, id);
  if (letter.messageId === null || letter.key === null || letter.sequence === null) {
    throw new ConvergeError(
      'DEAD_LETTER_NOT_REPLAYABLE',
      `Dead letter ${id} (${letter.reason}) has no message id or key, so there is nothing to apply; archive it instead.`,
      { details: { id } },
    );
  }
  if (letter.bodyTruncated) {
    throw new ConvergeError(
      'DEAD_LETTER_NOT_REPLAYABLE',
      `Dead letter ${id} kept only the first part of its ${letter.bodyBytes}-byte payload (sha256 ${letter.bodySha256}); it cannot be replayed as it was sent. Archive it, and have the producer send it again.`,
      { details: { id } },
    );
  }
  await transition(storage, letter, 'replaying', 'replay-requested', action);
  return { ...letter, status: 'replaying' };
}

/**
 * Archives dead letter `id`: a decision that it will not be replayed. The key it blocks, if any,
 * stays blocked (replay is the way to unblock it).
 *
 * @throws ConvergeError `DEAD_LETTER_NOT_FOUND`, `DEAD_LETTER_NOT_OPEN`, `CONFIG_INVALID`.
 */
export async function archiveDeadLetter(
  storage: Storage,
  id: number,
  action: OperatorAction,
): Promise<StoredDeadLetter> {
  checkAction(action);
  const letter = await find(storage, id);
  await transition(storage, letter, 'archived', 'archived', action);
  return { ...letter, status: 'archived' };
}

async function find(storage: Storage, id: number): Promise<StoredDeadLetter> {
  const letter = Number.isSafeInteger(id) && id > 0 ? await storage.inbox.getDeadLetter(id) : null;
  if (letter === null) {
    throw new ConvergeError(
      'DEAD_LETTER_NOT_FOUND',
      `There is no dead letter ${id} in ${storage.description}.`,
      {
        details: { id },
      },
    );
  }
  return letter;
}

async function transition(
  storage: Storage,
  letter: StoredDeadLetter,
  to: 'replaying' | 'archived',
  action: string,
  by: OperatorAction,
): Promise<void> {
  const moved = await storage.transaction((tx) =>
    storage.inbox.transitionDeadLetter(tx, letter.id, ['open'], to, {
      actor: by.actor,
      action,
      detail: by.reason,
    }),
  );
  if (!moved) {
    const now = await storage.inbox.getDeadLetter(letter.id);
    throw new ConvergeError(
      'DEAD_LETTER_NOT_OPEN',
      `Dead letter ${letter.id} is ${now?.status ?? 'gone'}, not open; only an open dead letter can be ${to === 'replaying' ? 'replayed' : 'archived'}.`,
      { details: { id: letter.id, status: now?.status ?? null } },
    );
  }
}

function checkAction(action: OperatorAction): void {
  for (const field of ['actor', 'reason'] as const) {
    const value = (action as Partial<OperatorAction> | undefined)?.[field];
    if (typeof value !== 'string' || value.trim().length === 0) {
      throw new ConvergeError(
        'CONFIG_INVALID',
        `A dead-letter action needs a non-empty '${field}' for its audit trail (who did it, and why).`,
        { details: { field } },
      );
    }
  }
}
