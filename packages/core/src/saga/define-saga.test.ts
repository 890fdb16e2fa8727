import { describe, expect, expectTypeOf, it } from 'vitest';
import { isConvergeError } from '../core/errors.js';
import { defineSaga } from './define-saga.js';
import {
  DEFAULT_COMPENSATION_RETRY_POLICY,
  DEFAULT_STEP_RETRY_POLICY,
  DEFAULT_STEP_TIMEOUT_MS,
} from './saga-definition.js';
import { initialSnapshot } from './saga-snapshot.js';

const noop = async () => null;

function definitionError(build: () => unknown): { code: string; message: string } {
  try {
    build();
  } catch (error) {
    if (isConvergeError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('It did not throw.');
}

describe('defineSaga', () => {
  it('builds a frozen definition with stages, defaults and typed outputs', () => {
    const definition = defineSaga('unsubscribe', 2)
      .input<{ customerId: string }>()
      .step('profile', {
        action: async (c) => {
          expectTypeOf(c.input.customerId).toEqualTypeOf<string>();
          return { profileId: 7 };
        },
        compensate: async (c) => {
          expectTypeOf(c.output.profileId).toEqualTypeOf<number>();
        },
      })
      .parallel([
        {
          name: 'contract',
          action: async (c) => {
            // @ts-expect-error: a step of the same or a later stage has no output yet
            c.outputs.billing;
            return { contract: c.outputs.profile.profileId };
          },
        },
        { name: 'billing', action: noop, timeoutMs: 5_000, retry: { maxAttempts: 5 } },
      ])
      .step('audit', {
        action: async (c) => {
          expectTypeOf(c.outputs.contract.contract).toEqualTypeOf<number>();
          return null;
        },
      })
      .build();
    expect(definition.stages).toEqual([['profile'], ['contract', 'billing'], ['audit']]);
    expect(definition.steps.map((s) => [s.name, s.stage])).toEqual([
      ['profile', 0],
      ['contract', 1],
      ['billing', 1],
      ['audit', 2],
    ]);
    const [profile, , billing, audit] = definition.steps;
    expect(profile).toMatchObject({ retry: DEFAULT_STEP_RETRY_POLICY, timeoutMs: DEFAULT_STEP_TIMEOUT_MS });
    expect(profile?.compensation).toMatchObject({
      retry: DEFAULT_COMPENSATION_RETRY_POLICY,
      timeoutMs: 30_000,
    });
    expect(billing).toMatchObject({
      timeoutMs: 5_000,
      retry: { ...DEFAULT_STEP_RETRY_POLICY, maxAttempts: 5 },
    });
    expect(audit?.compensation).toBeNull();
    expect(Object.isFrozen(definition)).toBe(true);
    expect(Object.isFrozen(definition.steps[0])).toBe(true);
  });

  it('keeps builders immutable: extending one does not change another', () => {
    const base = defineSaga('s', 1).step('a', { action: noop });
    const longer = base.step('b', { action: noop });
    expect(base.build().stages).toEqual([['a']]);
    expect(longer.build().stages).toEqual([['a'], ['b']]);
  });

  it.each([
    ['no steps', () => defineSaga('s', 1).build(), /Saga 's' version 1: it has no steps; add at least one/],
    [
      'a bad saga name',
      () => defineSaga('my saga', 1).step('a', { action: noop }).build(),
      /the saga name "my saga" is not valid/,
    ],
    [
      'a bad version',
      () => defineSaga('s', 0).step('a', { action: noop }).build(),
      /the version 0 is not a positive whole number/,
    ],
    [
      'a repeated step',
      () =>
        defineSaga('s', 1)
          .step('a', { action: noop })
          .parallel([{ name: 'a', action: noop }])
          .build(),
      /Saga 's' version 1 step 'a': the step name is used twice; give every step its own name/,
    ],
    [
      'a colon in a step name',
      () => defineSaga('s', 1).step('a:b', { action: noop }).build(),
      /step name "a:b" is not valid.*no ':'/,
    ],
    ['an empty group', () => defineSaga('s', 1).parallel([]).build(), /parallel group 1 is empty/],
    [
      'a zero timeout',
      () => defineSaga('s', 1).step('a', { action: noop, timeoutMs: 0 }).build(),
      /step 'a': timeoutMs 0 is not a whole number of milliseconds/,
    ],
    [
      'a bad compensation policy',
      () =>
        defineSaga('s', 1)
          .step('a', { action: noop, compensate: noop, compensationRetry: { maxAttempts: 0 } })
          .build(),
      /step 'a': compensationRetry.maxAttempts 0 is not a whole number of at least 1/,
    ],
    [
      'a missing action',
      () =>
        defineSaga('s', 1)
          .step('a', {} as never)
          .build(),
      /step 'a': the action is not a function/,
    ],
  ])('refuses %s with SAGA_DEFINITION_INVALID naming the saga, step and remedy', (_, build, message) => {
    const error = definitionError(build);
    expect(error.code).toBe('SAGA_DEFINITION_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).not.toMatch(/\n/);
  });

  it("keeps each step's service in the definition and in every new instance's snapshot", () => {
    const definition = defineSaga('unsubscribe', 1)
      .step('profile', { action: noop, service: 'customer_profile' })
      .parallel([
        { name: 'billing', action: noop, service: 'billing_payment' },
        { name: 'notify', action: noop },
      ])
      .build();
    expect(definition.steps.map((step) => step.service)).toEqual([
      'customer_profile',
      'billing_payment',
      null,
    ]);
    const snapshot = JSON.parse(JSON.stringify(initialSnapshot(definition, {}, new Date())));
    expect(snapshot.steps).toMatchObject({
      profile: { status: 'pending', service: 'customer_profile' },
      billing: { status: 'pending', service: 'billing_payment' },
      notify: { status: 'pending', service: null },
    });
  });

  it.each([
    ['Billing-Payment', /the service name 'Billing-Payment' contains '-'.*for example 'billing_payment'/],
    ['select', /the service name 'select' is a PostgreSQL reserved key word; choose another name/],
  ])('refuses the service %j with a remedy naming the manifest', (service, message) => {
    const error = definitionError(() => defineSaga('s', 1).step('a', { action: noop, service }).build());
    expect(error.code).toBe('SAGA_DEFINITION_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(
      /^Saga 's' version 1 step 'a': .*, as the ownership manifest names the service\.$/,
    );
  });

  it('checks the input with a function or a schema-like parse when a saga starts', () => {
    const byFunction = defineSaga('s', 1)
      .input((input: unknown) => {
        if (typeof (input as { id?: unknown }).id !== 'string') throw new Error("'id' must be a string");
        return input as { id: string };
      })
      .step('a', { action: noop })
      .build();
    expect(initialSnapshot(byFunction, { id: 'c1' }, new Date()).status).toBe('running');
    const error = definitionError(() => initialSnapshot(byFunction, { id: 1 }, new Date()));
    expect(error).toEqual({
      code: 'SAGA_INPUT_INVALID',
      message:
        "Saga 's' version 1: the input is not valid ('id' must be a string); start it with an input its validator accepts.",
    });
    const bySchema = defineSaga('s', 1)
      .input({ parse: (input: unknown) => ({ n: Number(input) }) })
      .step('a', { action: noop })
      .build();
    expect(bySchema.parseInput('4')).toEqual({ n: 4 });
  });
});
