import { describe, expect, it } from 'vitest';
import type { Storage } from '../ports/storage.js';
import { type CommandReply, type CommandRequest, commandCall, parseCommandReply } from './command-call.js';
import { createCommandChannel } from './command-channel.js';
import type { StepContext, StepOutputs } from './saga-definition.js';

const SAGA_ID = '0190aaaa-0000-7000-8000-000000000001';

function context(input: unknown = { customer: 'c-1' }): StepContext<{ customer: string }, StepOutputs> {
  return {
    sagaId: SAGA_ID,
    step: 'billing',
    attempt: 2,
    idempotencyKey: `${SAGA_ID}:billing`,
    input: input as { customer: string },
    outputs: {},
    signal: new AbortController().signal,
  };
}

/** A requester that answers every command with `reply` and keeps what it was sent. */
function answering(reply: CommandReply) {
  const sent: CommandRequest[] = [];
  return {
    sent,
    async request(command: CommandRequest) {
      sent.push(command);
      return reply;
    },
  };
}

describe('commandCall', () => {
  it("sends the step's type, key, data, idempotency key and saga id, and returns an ok reply's data", async () => {
    const requester = answering({ outcome: 'ok', data: { chargeId: 'ch-1' } });
    const action = commandCall<{ customer: string }>(requester, {
      type: 'billing.charge',
      key: (c) => c.input.customer,
      data: (c) => ({ customer: c.input.customer, note: undefined }),
    });

    expect(await action(context())).toEqual({ chargeId: 'ch-1' });
    expect(requester.sent).toEqual([
      {
        type: 'billing.charge',
        key: 'c-1',
        data: { customer: 'c-1' }, // undefined properties left out, as JSON sends them
        idempotencyKey: `${SAGA_ID}:billing`,
        sagaId: SAGA_ID,
      },
    ]);
  });

  it('sends null data when the step gives none', async () => {
    const requester = answering({ outcome: 'ok', data: null });
    await commandCall(requester, { type: 't.x', key: 'k' })(context());
    expect(requester.sent[0]!.data).toBeNull();
  });

  it("fails without retries on a rejection, naming the participant's code", async () => {
    const action = commandCall(answering({ outcome: 'rejected', code: 'NO_FUNDS', message: 'no funds' }), {
      type: 'billing.charge',
      key: 'k',
    });
    await expect(action(context())).rejects.toMatchObject({
      name: 'TerminalError',
      code: 'COMMAND_REJECTED',
      details: { participantCode: 'NO_FUNDS' },
      message: expect.stringContaining('NO_FUNDS: no funds'),
    });
  });

  it("retries a failure, after the participant's retryAfterMs when it gave one", async () => {
    const action = commandCall(answering({ outcome: 'failed', message: 'busy', retryAfterMs: 1500 }), {
      type: 'billing.charge',
      key: 'k',
    });
    await expect(action(context())).rejects.toMatchObject({
      name: 'RetryableError',
      code: 'COMMAND_FAILED',
      retryAfterMs: 1500,
    });
  });

  it('fails without retries when the data cannot be sent as JSON', async () => {
    const requester = answering({ outcome: 'ok', data: null });
    const action = commandCall(requester, { type: 't.x', key: 'k', data: () => ({ amount: 10n }) });
    await expect(action(context())).rejects.toMatchObject({
      name: 'TerminalError',
      code: 'COMMAND_DATA_INVALID',
    });
    expect(requester.sent).toEqual([]);
  });
});

describe('parseCommandReply', () => {
  it('reads the three outcomes', () => {
    expect(parseCommandReply({ outcome: 'ok', data: 1 })).toEqual({ outcome: 'ok', data: 1 });
    expect(parseCommandReply({ outcome: 'ok' })).toEqual({ outcome: 'ok', data: null });
    expect(parseCommandReply({ outcome: 'rejected', code: 'C', message: 'm' })).toEqual({
      outcome: 'rejected',
      code: 'C',
      message: 'm',
    });
    expect(parseCommandReply({ outcome: 'failed', message: 'm', retryAfterMs: 5 })).toEqual({
      outcome: 'failed',
      message: 'm',
      retryAfterMs: 5,
    });
  });

  it.each([
    [null, 'not an object'],
    [[1], 'not an object'],
    [{ outcome: 'maybe' }, "'outcome' must be"],
    [{ outcome: 'rejected', code: 1, message: 'm' }, "string 'code'"],
    [{ outcome: 'failed' }, "string 'message'"],
    [{ outcome: 'failed', message: 'm', retryAfterMs: -1 }, 'retryAfterMs'],
  ])('says what is wrong with %j', (data, problem) => {
    expect(parseCommandReply(data)).toEqual(expect.stringContaining(problem));
  });
});

describe('createCommandChannel options', () => {
  const base = {
    storage: {} as Storage,
    outbox: {} as never,
    inbox: {} as never,
    replyTo: 'orders.saga.reply',
  };

  it.each([
    [{ replyTo: 'orders saga' }, 'replyTo'],
    [{ replyTo: '' }, 'replyTo'],
    [{ pollIntervalMs: 0 }, 'pollIntervalMs'],
    [{ replyRetentionMs: 1_000 }, 'replyRetentionMs'],
  ])('refuses %j, naming the field', (bad, field) => {
    expect(() => createCommandChannel({ ...base, ...bad })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: { field } }),
    );
  });
});
