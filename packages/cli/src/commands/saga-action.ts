/**
 * `converge saga resume|retry|compensate|cancel ID --reason "…"`: an operator's intervention on
 * one saga. The action is applied to the stored snapshot without the saga's definition (see
 * `applyOperatorAction`) and recorded with `SagaStore.intervene`: one transition in the saga's log
 * with the actor and the reason, and a new fencing token, so an orchestrator holding the saga is
 * fenced off (its next write is refused) and the running orchestrators take the saga up again at
 * their next claim. An action that does not fit the saga's state changes nothing (exit 5).
 */
import {
  applyOperatorAction,
  ConvergeError,
  type OperatorActionKind,
  type OperatorEvent,
  type SagaRecord,
  type Storage,
} from '@converge/core';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { addDatabaseOptions, type DatabaseCommandOptions, examplesHelp } from '../common-options.js';
import { withDatabase } from '../use-database.js';
import { usageError } from './dlq-filter.js';
import { checkSagaId, loadSaga, sagaNotFound } from './saga-lookup.js';

interface ActionOptions extends DatabaseCommandOptions {
  readonly reason: string;
  readonly actor?: string;
}

const ACTIONS: Readonly<Record<OperatorActionKind, { readonly description: string; readonly done: string }>> =
  {
    resume: {
      description: 'try the failed compensations of a saga that needs attention again, with fresh retries',
      done: 'Resumed',
    },
    retry: {
      description: 'run the failed steps forward again with fresh retries (only before anything was undone)',
      done: 'Retried',
    },
    compensate: { description: 'stop going forward and undo the completed steps now', done: 'Compensating' },
    cancel: { description: 'end the saga as failed now, undoing nothing', done: 'Cancelled' },
  };

/** Adds `converge saga <verb>` to `saga`. */
export function addSagaActionCommand(saga: Command, verb: OperatorActionKind, context: CliContext): Command {
  const command = saga
    .command(verb)
    .description(`${ACTIONS[verb].description} (audited)`)
    .argument('<id>', 'the saga id (from saga list)')
    .requiredOption('--reason <text>', 'why, for the transition log')
    .option('--actor <name>', 'who, for the transition log (default: $USER)');
  return addDatabaseOptions(command)
    .addHelpText(
      'after',
      examplesHelp([`converge saga ${verb} 0190a5c4-… --reason 'card processor fixed (INC-42)'`]),
    )
    .action(async (id: string, options: ActionOptions) => {
      const sagaId = checkSagaId(id);
      const event = {
        kind: verb,
        actor: requiredText(options.actor ?? context.env.USER ?? 'converge-cli', '--actor <name>'),
        reason: requiredText(options.reason, '--reason <text>'),
      };
      await withDatabase(options, context, async (storage) => {
        const { before, after } = await intervene(storage, sagaId, event);
        const result = {
          action: verb,
          id: after.id,
          name: after.name,
          version: after.version,
          previousStatus: before.status,
          status: after.status,
          actor: event.actor,
          reason: event.reason,
          transition: after.transitions,
          fencingToken: after.fencingToken,
        };
        if (options.json === true) {
          context.output.json(result);
          return;
        }
        context.output.result(
          `${ACTIONS[verb].done} saga ${after.id} ('${after.name}' version ${after.version}): ${before.status} -> ${after.status}, transition ${after.transitions} by ${event.actor}. ${nextStep(after.status, after.id)}`,
        );
      });
    });
}

/** How often an action is decided again when an orchestrator moved the saga on meanwhile. */
const MAX_DECISIONS = 5;

/**
 * Reads the saga, decides the action's write from what was read, and records it only if the saga
 * has not moved on since (`expectedTransitions`): a completion racing a `cancel` is never
 * overwritten. When it has moved on, the action is decided again on the new state, which may now
 * refuse it (`SAGA_ACTION_INVALID`, exit 5).
 */
async function intervene(
  storage: Storage,
  sagaId: string,
  event: OperatorEvent,
): Promise<{ before: SagaRecord; after: SagaRecord }> {
  for (let decision = 1; ; decision += 1) {
    const before = await loadSaga(storage, sagaId);
    const { write } = applyOperatorAction(before.snapshot, event, new Date());
    const after = await storage.sagas.intervene(sagaId, write, before.transitions);
    if (after === undefined) throw sagaNotFound(storage, sagaId);
    if (after !== 'changed') return { before, after };
    if (decision === MAX_DECISIONS)
      throw new ConvergeError(
        'SAGA_BUSY',
        `Saga ${sagaId} kept moving on while the ${event.kind} was being recorded (${MAX_DECISIONS} tries); nothing was changed. Try again, or stop its orchestrators first.`,
      );
  }
}

function requiredText(text: string, option: string): string {
  if (text.trim() === '')
    throw usageError(
      `${option} is empty: say ${option.startsWith('--reason') ? 'why' : 'who'}, for the transition log.`,
    );
  return text;
}

function nextStep(status: string, id: string): string {
  const follow = `follow with 'converge saga show ${id}'`;
  if (status === 'running' || status === 'compensating') {
    return `The running orchestrators take it up at their next claim; ${follow}.`;
  }
  return `It has ended; ${follow}.`;
}
