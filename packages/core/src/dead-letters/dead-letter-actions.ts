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
 * Asks the consumer of the dead letters `ids` to replay them. All or nothing: every id is checked
 * first, and the requests are recorded in one transaction. Resolves once they are recorded; the
 * consumer replays them within its retry poll interval and records each outcome in the audit trail.
 *
 * @throws ConvergeError `DEAD_LETTER_NOT_FOUND`, `DEAD_LETTER_NOT_OPEN` (already replaying,
 *   replayed or archived), `DEAD_LETTER_NOT_REPLAYABLE` (no key, or its payload was cut at the cap:
 *   archive it instead), `CONFIG_INVALID` (no ids, or a missing actor or reason). Nothing is
 *   recorded then.
 */
export async function requestDeadLetterReplay(
  storage: Storage,
  ids: readonly number[],
  action: OperatorAction,
): Promise<StoredDeadLetter[]> {
  checkAction(action, ids);
  const letters = await findOpen(storage, ids, 'replayed');
  for (const letter of letters) {
    if (letter.messageId === null || letter.key === null || letter.sequence === null) {
      throw new ConvergeError(
        'DEAD_LETTER_NOT_REPLAYABLE',
        `Dead letter ${letter.id} (${letter.reason}) has no message id or key, so there is nothing to apply; archive it instead.`,
        { details: { id: letter.id } },
      );
    }
    if (letter.bodyTruncated) {
      throw new ConvergeError(
        'DEAD_LETTER_NOT_REPLAYABLE',
        `Dead letter ${letter.id} kept only the first part of its ${letter.bodyBytes}-byte payload (sha256 ${letter.bodySha256}); it cannot be replayed as it was sent. Archive it, and have the producer send it again.`,
        { details: { id: letter.id } },
      );
    }
  }
  await transitionAll(storage, letters, 'replaying', 'replay-requested', action);
  return letters.map((letter) => ({ ...letter, status: 'replaying' as const }));
}

/**
 * Archives the dead letters `ids`: a decision that they will not be replayed. A key one of them
 * blocks stays blocked (replay is the way to unblock it). All or nothing, like a replay request.
 *
 * @throws ConvergeError `DEAD_LETTER_NOT_FOUND`, `DEAD_LETTER_NOT_OPEN`, `CONFIG_INVALID`.
 */
export async function archiveDeadLetter(
  storage: Storage,
  ids: readonly number[],
  action: OperatorAction,
): Promise<StoredDeadLetter[]> {
  checkAction(action, ids);
  const letters = await findOpen(storage, ids, 'archived');
  await transitionAll(storage, letters, 'archived', 'archived', action);
  return letters.map((letter) => ({ ...letter, status: 'archived' as const }));
}

async function findOpen(storage: Storage, ids: readonly number[], verb: string): Promise<StoredDeadLetter[]> {
  const letters: StoredDeadLetter[] = [];
  for (const id of new Set(ids)) {
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
    if (letter.status !== 'open') throw notOpen(letter.id, letter.status, verb);
    letters.push(letter);
  }
  return letters;
}

async function transitionAll(
  storage: Storage,
  letters: readonly StoredDeadLetter[],
  to: 'replaying' | 'archived',
  action: string,
  by: OperatorAction,
): Promise<void> {
  await storage.transaction(async (tx) => {
    for (const letter of letters) {
      const moved = await storage.inbox.transitionDeadLetter(tx, letter.id, ['open'], to, {
        actor: by.actor,
        action,
        detail: by.reason,
      });
      // Another process changed it since we looked: roll all of them back.
      if (!moved) throw notOpen(letter.id, 'no longer open', to === 'replaying' ? 'replayed' : 'archived');
    }
  });
}

function notOpen(id: number, status: string, verb: string): ConvergeError {
  return new ConvergeError(
    'DEAD_LETTER_NOT_OPEN',
    `Dead letter ${id} is ${status}, not open; only an open dead letter can be ${verb}. Nothing was changed.`,
    { details: { id, status } },
  );
}

function checkAction(action: OperatorAction, ids: readonly number[]): void {
  if (!Array.isArray(ids) || ids.length === 0) {
    throw new ConvergeError('CONFIG_INVALID', 'Name at least one dead letter id.', {
      details: { field: 'ids' },
    });
  }
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
