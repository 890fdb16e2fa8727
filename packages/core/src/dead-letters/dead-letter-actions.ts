/**
 * What an operator does with a dead letter, from any process (the CLI, an admin endpoint): ask
 * for a replay, or archive it. Both only change the dead letter's status and add to its audit
 * trail, in one transaction of the consumer's database. The replay itself is done by the running
 * consumer, which has the handler: its retry loop picks up dead letters in `replaying` and runs
 * them through the same inbox (see `MessageProcessor.replay`), so an effect is never applied twice
 * and the key's order holds. An edit replaces the message's `data` first, in the same transaction,
 * so what the consumer replays is the edited message.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_DEAD_LETTER_PAYLOAD_BYTES } from '../core/dead-letter-record.js';
import { parseEnvelope } from '../core/envelope.js';
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

/** How to run a dead-letter action. */
export interface DeadLetterActionOptions {
  /** Check everything and return what would change, but record nothing. Default false. */
  readonly dryRun?: boolean;
}

/**
 * Asks the consumer of the dead letters `ids` to replay them. All or nothing: every id is checked
 * first, and the requests are recorded in one transaction. Resolves once they are recorded; the
 * consumer replays them within its retry poll interval and records each outcome in the audit trail.
 *
 * With `dryRun`, checks the same and returns the letters as they are, recording nothing.
 *
 * @throws ConvergeError `DEAD_LETTER_NOT_FOUND`, `DEAD_LETTER_NOT_OPEN` (already replaying,
 *   replayed or archived), `DEAD_LETTER_NOT_REPLAYABLE` (no key, or its payload was cut at the cap:
 *   archive it instead), `CONFIG_INVALID` (no ids, or a missing actor or reason). Nothing is
 *   recorded then.
 * @example await requestDeadLetterReplay(storage, [17, 18], { actor: 'alice', reason: 'INC-42 fixed' });
 */
export async function requestDeadLetterReplay(
  storage: Storage,
  ids: readonly number[],
  action: OperatorAction,
  options: DeadLetterActionOptions = {},
): Promise<StoredDeadLetter[]> {
  checkAction(action, ids);
  const letters = await findOpen(storage, ids, 'replayed');
  for (const letter of letters) assertReplayable(letter);
  if (options.dryRun === true) return letters;
  await transitionAll(storage, letters, 'replaying', 'replay-requested', action);
  return letters.map((letter) => ({ ...letter, status: 'replaying' as const }));
}

/**
 * Archives the dead letters `ids`: a decision that they will not be replayed. A key one of them
 * blocks stays blocked (replay is the way to unblock it). All or nothing, like a replay request;
 * `dryRun` checks and records nothing.
 *
 * @throws ConvergeError `DEAD_LETTER_NOT_FOUND`, `DEAD_LETTER_NOT_OPEN`, `CONFIG_INVALID`.
 */
export async function archiveDeadLetter(
  storage: Storage,
  ids: readonly number[],
  action: OperatorAction,
  options: DeadLetterActionOptions = {},
): Promise<StoredDeadLetter[]> {
  checkAction(action, ids);
  const letters = await findOpen(storage, ids, 'archived');
  if (options.dryRun === true) return letters;
  await transitionAll(storage, letters, 'archived', 'archived', action);
  return letters.map((letter) => ({ ...letter, status: 'archived' as const }));
}

/** What an edit did (or, with `dryRun`, would do). */
export interface EditedDeadLetter {
  /** The dead letter with its new message, `replaying` (still `open` after a dry run). */
  readonly deadLetter: StoredDeadLetter;
  /** sha256 (hex) of the message before and after the edit, as recorded in the audit trail. */
  readonly previousSha256: string;
  readonly sha256: string;
}

/**
 * An audited edit-and-replay: replaces the `data` of open dead letter `id`'s message with `data`
 * (every other envelope attribute is kept as it was), records the old and new sha256 in the audit
 * trail (`edited`, then `replay-requested`) and moves it to `replaying`, in one transaction; the
 * running consumer then replays the edited message through its inbox like any replay (once, in
 * the key's order). The consumer's own checks (schemas, size limit) apply to the edited message
 * when it is replayed; a message that fails them becomes a new dead letter.
 *
 * @throws ConvergeError `DEAD_LETTER_NOT_FOUND`; `DEAD_LETTER_NOT_OPEN`; `DEAD_LETTER_NOT_REPLAYABLE`
 *   (no key, its payload was cut at the cap, or it is not an envelope); `CONFIG_INVALID` (a missing
 *   actor or reason, `data` that is not JSON, a hostile shape, over the payload cap, or the same
 *   as now). Nothing is recorded then.
 * @example await editDeadLetter(storage, 17, { amount: 12 }, { actor: 'alice', reason: 'amount had a typo (INC-43)' });
 */
export async function editDeadLetter(
  storage: Storage,
  id: number,
  data: unknown,
  action: OperatorAction,
  options: DeadLetterActionOptions = {},
): Promise<EditedDeadLetter> {
  checkAction(action, [id]);
  // findOpen returns exactly one letter for one id, or throws.
  const letter = (await findOpen(storage, [id], 'edited'))[0]!;
  assertReplayable(letter);
  const body = editedBody(letter, data);
  const bodyBytes = Buffer.byteLength(body, 'utf8');
  const sha256 = createHash('sha256').update(body, 'utf8').digest('hex');
  if (sha256 === letter.bodySha256) {
    throw invalidEdit(
      `the new data of dead letter ${id} is the same as its current data; request a plain replay instead`,
    );
  }
  const edited = { ...letter, body, bodySha256: sha256, bodyBytes, bodyTruncated: false };
  const result = { previousSha256: letter.bodySha256, sha256 };
  if (options.dryRun === true) return { deadLetter: edited, ...result };
  await storage.transaction(async (tx) => {
    const detail = `${action.reason} (data replaced: sha256 ${letter.bodySha256} -> ${sha256}, ${letter.bodyBytes} -> ${bodyBytes} bytes)`;
    const audit = { actor: action.actor, action: 'edited', detail };
    if (!(await storage.inbox.replaceDeadLetterBody(tx, id, letter.bodySha256, edited, audit))) {
      throw notOpen(id, 'no longer open, or was edited by someone else', 'edited');
    }
    const replay = { actor: action.actor, action: 'replay-requested', detail: action.reason };
    if (!(await storage.inbox.transitionDeadLetter(tx, id, ['open'], 'replaying', replay))) {
      throw notOpen(id, 'no longer open', 'edited');
    }
  });
  return { deadLetter: { ...edited, status: 'replaying' }, ...result };
}

/** The letter's envelope with `data` in place of its data (and without `data_base64`), as JSON. */
function editedBody(letter: StoredDeadLetter, data: unknown): string {
  const stored = parseEnvelope(letter.body);
  if (!stored.ok) {
    throw new ConvergeError(
      'DEAD_LETTER_NOT_REPLAYABLE',
      `Dead letter ${letter.id} does not hold a usable envelope (${stored.problem.detail}); editing its data cannot make it replayable, so archive it instead.`,
      { details: { id: letter.id } },
    );
  }
  let dataJson: string | undefined;
  try {
    dataJson = JSON.stringify(data);
  } catch {
    dataJson = undefined;
  }
  if (dataJson === undefined) throw invalidEdit('the new data is not a JSON value');
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(stored.envelope)) {
    if (name !== 'data' && name !== 'data_base64') attributes[name] = value;
  }
  const body = JSON.stringify({ ...attributes, data: JSON.parse(dataJson) as unknown });
  const checked = parseEnvelope(body);
  if (!checked.ok) throw invalidEdit(`the edited message would be refused: ${checked.problem.detail}`);
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > DEFAULT_DEAD_LETTER_PAYLOAD_BYTES) {
    throw invalidEdit(
      `the edited message would be ${bytes} bytes, over the dead-letter payload cap of ${DEFAULT_DEAD_LETTER_PAYLOAD_BYTES}`,
    );
  }
  return body;
}

function assertReplayable(letter: StoredDeadLetter): void {
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

function invalidEdit(why: string): ConvergeError {
  return new ConvergeError('CONFIG_INVALID', `Cannot edit the dead letter: ${why}. Nothing was changed.`, {
    details: { field: 'data' },
  });
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
