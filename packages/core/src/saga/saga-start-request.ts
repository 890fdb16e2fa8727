/**
 * Starting a saga from another service without reaching the orchestrator's database: the
 * requesting service appends a start request to **its own** outbox, in its business transaction;
 * its relay publishes the request when the transport is reachable (until then it waits in the
 * outbox, committed, not lost); on the orchestrator's side an inbox consumer starts the saga
 * inside the inbox's transaction, so the receipt and the saga commit together.
 *
 * Exactly-once start: a redelivered request is recognised by the inbox's receipt, and a second
 * request with the same idempotency key (a retry of the requester's business operation) finds the
 * saga the first one started (`startSaga`'s idempotency, unique per saga name). A request the
 * orchestrator can never start (an unknown saga name, an input its validator refuses, a malformed
 * request) is a `TerminalError`: the inbox dead-letters it with the reason, for `converge dlq list`.
 */
import type { MessageDraft } from '../core/envelope.js';
import { ConvergeError, isConvergeError, TerminalError } from '../core/errors.js';
import type { MessageHandler } from '../inbox/message-processor.js';
import { SAGA_NAME_PATTERN } from './define-saga.js';
import type { Orchestrator } from './saga-orchestrator.js';

/** The message type of a start request. */
export const SAGA_START_REQUESTED = 'converge.saga.start-requested';

/** What a start request carries (the message's `data`). */
export interface SagaStartRequest<Input = unknown> {
  /** The saga's name; the orchestrator starts the highest version it registers. */
  readonly saga: string;
  readonly input: Input;
  /**
   * The start's idempotency key (1–255 characters), e.g. the id of the business operation: a
   * repeat with the same key (per saga name) starts nothing and finds the first one's saga. It is
   * also the message's key, so the requests of one key are applied in order.
   */
  readonly idempotencyKey: string;
}

/** Optional envelope attributes of a start request. */
export interface SagaStartRequestOptions {
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly traceparent?: string;
}

const MAX_KEY_LENGTH = 255;

/**
 * The outbox message that asks an orchestrator to start a saga. Append it with your business
 * change; it is published when the transport is reachable, and `sagaStartHandler` starts it.
 *
 * @throws ConvergeError `SAGA_START_REQUEST_INVALID` for a saga name that no definition can have
 *   or an idempotency key that is empty or over 255 characters (nothing is appended).
 * @example
 * await storage.transaction(async (tx) => {
 *   await tx.execute('INSERT INTO signup (id, email) VALUES (?, ?)', [id, email]);
 *   await outbox.append(tx, [sagaStartRequest({ saga: 'onboarding', input: { id }, idempotencyKey: `signup-${id}` })]);
 * });
 */
export function sagaStartRequest<Input>(
  request: SagaStartRequest<Input>,
  options: SagaStartRequestOptions = {},
): MessageDraft<SagaStartRequest<Input>> {
  const problem = requestProblem(request);
  if (problem !== undefined) {
    throw new ConvergeError('SAGA_START_REQUEST_INVALID', `sagaStartRequest: ${problem}.`, {
      details: { saga: (request as { saga?: unknown })?.saga },
    });
  }
  return {
    type: SAGA_START_REQUESTED,
    key: request.idempotencyKey,
    data: { saga: request.saga, input: request.input, idempotencyKey: request.idempotencyKey },
    ...options,
  };
}

/**
 * The inbox handler that starts the requested sagas with `orchestrator`. Subscribe it with an
 * inbox **on the orchestrator's own storage**, so the saga is recorded in the inbox's transaction:
 * the receipt and the saga commit together, and a redelivery starts nothing twice.
 *
 * A request that cannot be started is thrown as a `TerminalError` (dead-lettered with reason
 * `HANDLER_TERMINAL_ERROR`): `SAGA_DEFINITION_UNKNOWN` (no registered saga of that name; register
 * it, then replay the dead letter), `SAGA_INPUT_INVALID` (the validator refused the input),
 * `SAGA_START_REQUEST_INVALID` (the message is not a start request). Any other error (the
 * database) is retried by the inbox.
 *
 * @example
 * const inbox = createInbox({ storage: orchestratorStorage, transport });
 * await inbox.subscribe({ consumer: 'saga-starts', types: [SAGA_START_REQUESTED] }, sagaStartHandler(orchestrator));
 */
export function sagaStartHandler(orchestrator: Orchestrator): MessageHandler<unknown> {
  return async (message, tx) => {
    const subject = `Saga start request ${message.id} from '${message.source}'`;
    const problem = requestProblem(message.data);
    if (problem !== undefined) {
      throw new TerminalError(`${subject}: ${problem}; send one made by sagaStartRequest.`, {
        code: 'SAGA_START_REQUEST_INVALID',
      });
    }
    const request = message.data as SagaStartRequest;
    try {
      await orchestrator.startSaga(request.saga, request.input, {
        idempotencyKey: request.idempotencyKey,
        tx,
      });
    } catch (error) {
      if (isConvergeError(error) && UNSTARTABLE.has(error.code)) {
        throw new TerminalError(
          `${subject} (idempotency key '${request.idempotencyKey}'): ${error.message}`,
          {
            code: error.code,
            cause: error,
            details: { saga: request.saga, idempotencyKey: request.idempotencyKey },
          },
        );
      }
      throw error;
    }
  };
}

/** Errors of `startSaga` that no retry can cure. */
const UNSTARTABLE: ReadonlySet<string> = new Set(['SAGA_DEFINITION_UNKNOWN', 'SAGA_INPUT_INVALID']);

/** What is wrong with `value` as a start request, or undefined. */
function requestProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null)
    return 'the request is not an object { saga, input, idempotencyKey }';
  const { saga, input, idempotencyKey } = value as Partial<SagaStartRequest>;
  if (typeof saga !== 'string' || !SAGA_NAME_PATTERN.test(saga)) {
    return `'saga' ${JSON.stringify(saga) ?? 'undefined'} is not a saga name (a letter, then letters, digits, '_', '.' or '-')`;
  }
  if (
    typeof idempotencyKey !== 'string' ||
    idempotencyKey.length === 0 ||
    idempotencyKey.length > MAX_KEY_LENGTH
  ) {
    return `'idempotencyKey' must be a string of 1-${MAX_KEY_LENGTH} characters (e.g. the id of the business operation)`;
  }
  if (input === undefined) return "'input' is missing; pass the saga's input (null for none)";
  return undefined;
}
