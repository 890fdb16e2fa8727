/**
 * The orchestrated _customer unsubscribes_ as a saga definition: Customer Profile, then Support
 * Contract, then Billing Payment, each an HTTP call to the participant with the step's idempotency
 * key, each with a compensation. When Billing Payment refuses (an unpriced plan) or keeps failing,
 * the saga undoes Support Contract's and Customer Profile's parts, in that order.
 *
 * The policies suit the demo's faults: a participant killed and restarted answers again within a
 * second, and the payment gateway's outage lasts a few seconds, so a step retries for about five
 * seconds before it fails for good, and a compensation for about fifteen before the saga waits for
 * a person (`needs-attention`).
 */
import {
  defineSaga,
  httpCall,
  type SagaDefinition,
  type StepOptions,
  stepIdempotencyKey,
} from '@converge/core';
import type { ParticipantName } from './participant-server.js';

export const UNSUBSCRIBE_SAGA = 'customer-unsubscribes';

export interface UnsubscribeInput {
  readonly customerId: string;
}

/** The base URL (`http://127.0.0.1:port`) at which a participant answers now. */
export type ParticipantUrl = (service: ParticipantName) => string;

/** The saga's steps in order, and the participant each one calls. */
export const UNSUBSCRIBE_STEPS: readonly { readonly step: string; readonly service: ParticipantName }[] = [
  { step: 'profile', service: 'customer-profile' },
  { step: 'contract', service: 'support-contract' },
  { step: 'billing', service: 'billing-payment' },
];

const STEP = {
  retry: { maxAttempts: 12, initialDelayMs: 100, maxDelayMs: 1_000 },
  timeoutMs: 5_000,
  compensationRetry: { maxAttempts: 25, initialDelayMs: 100, maxDelayMs: 1_000 },
  compensationTimeoutMs: 5_000,
} as const;

type Step = (typeof UNSUBSCRIBE_STEPS)[number];

/** The saga's definition, calling the participants wherever `participantUrl` says they are. */
export function unsubscribeSaga(participantUrl: ParticipantUrl): SagaDefinition<UnsubscribeInput> {
  const [profile, contract, billing] = UNSUBSCRIBE_STEPS as [Step, Step, Step];
  return defineSaga(UNSUBSCRIBE_SAGA, 1)
    .input<UnsubscribeInput>(parseInput)
    .step(profile.step, participantStep(profile.service, participantUrl))
    .step(contract.step, participantStep(contract.service, participantUrl))
    .step(billing.step, participantStep(billing.service, participantUrl))
    .build();
}

function participantStep(
  service: ParticipantName,
  participantUrl: ParticipantUrl,
): StepOptions<UnsubscribeInput, object, unknown> {
  return {
    ...STEP,
    action: httpCall<UnsubscribeInput, object>({
      url: () => `${participantUrl(service)}/unsubscribe`,
      body: (context) => ({ sagaId: context.sagaId, customerId: context.input.customerId }),
    }),
    // Written against the input and the step's key, not its output: a step whose outcome was
    // unknown is compensated too, with no output (ADR 0020).
    compensate: httpCall<UnsubscribeInput, object>({
      url: () => `${participantUrl(service)}/unsubscribe/undo`,
      body: (context) => ({
        sagaId: context.sagaId,
        customerId: context.input.customerId,
        actionKey: stepIdempotencyKey(context.sagaId, context.step),
      }),
    }),
  };
}

function parseInput(input: unknown): UnsubscribeInput {
  const customerId = (input as { customerId?: unknown } | null)?.customerId;
  if (typeof customerId !== 'string' || customerId === '') {
    throw new Error('customerId must be a non-empty string');
  }
  return { customerId };
}
