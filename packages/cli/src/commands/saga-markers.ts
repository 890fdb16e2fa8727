/**
 * `converge saga markers ID --database PARTICIPANT [--step S] [--clear]`: the pending markers a
 * saga left in one participant's database (rows its steps changed that readers skip until the saga
 * settles them, see docs/sagas.md "Isolation"). A saga that an operator cancels settles nothing, so
 * its markers stay until someone clears them: this lists them, and with `--clear` deletes them in
 * one transaction. The database is the participant's (where the markers are), not the
 * orchestrator's.
 */
import { maskSecrets, type PendingMarker } from '@converge/core';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { addDatabaseOptions, type DatabaseCommandOptions, examplesHelp } from '../common-options.js';
import { withDatabase } from '../use-database.js';
import { table } from './dlq-format.js';
import { checkSagaId } from './saga-lookup.js';

interface MarkersOptions extends DatabaseCommandOptions {
  readonly step?: string;
  readonly clear?: boolean;
}

/** Most markers listed; a saga marks a handful of rows per step. */
const LIST_LIMIT = 1_000;

/** Adds `converge saga markers` to `saga`. */
export function addSagaMarkersCommand(saga: Command, context: CliContext): Command {
  return addDatabaseOptions(
    saga
      .command('markers')
      .description(
        "list a saga's pending markers in a participant's database; --clear deletes them (after a cancel)",
      )
      .argument('<id>', 'the saga id (from saga list)')
      .option('--step <step>', "only the markers this step's calls wrote")
      .option('--clear', 'delete the listed markers (one transaction), so readers see those rows again'),
  )
    .addHelpText(
      'after',
      examplesHelp([
        'converge saga markers 0190a5c4-… --database postgres://profile@db/profile',
        'converge saga markers 0190a5c4-… --database sqlite:profile.db --clear',
      ]),
    )
    .action(async (id: string, options: MarkersOptions) => {
      const sagaId = checkSagaId(id);
      const filter = options.step === undefined ? {} : { step: options.step };
      await withDatabase(options, context, async (storage) => {
        const where = maskSecrets(storage.description);
        const markers = await storage.pendingMarkers.ofSaga(sagaId, { ...filter, limit: LIST_LIMIT });
        if (options.clear !== true) {
          if (options.json === true) context.output.json({ sagaId, markers });
          else context.output.result(markersTable(markers, sagaId, where));
          return;
        }
        const cleared = await storage.transaction((tx) =>
          storage.pendingMarkers.clear(tx, sagaId, options.step),
        );
        if (options.json === true) context.output.json({ sagaId, cleared, markers });
        else
          context.output.result(
            `Cleared ${cleared} pending marker${cleared === 1 ? '' : 's'} of saga ${sagaId}${options.step === undefined ? '' : ` (step ${options.step})`} in ${where}: readers see those rows again.`,
          );
      });
    });
}

function markersTable(markers: readonly PendingMarker[], sagaId: string, where: string): string {
  if (markers.length === 0) return `No pending markers of saga ${sagaId} in ${where}.`;
  return table(
    ['RESOURCE', 'KEY', 'STEP', 'SINCE'],
    markers.map((m) => [m.resource, m.key, m.step, m.since.toISOString()]),
  );
}
