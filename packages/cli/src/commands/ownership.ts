/**
 * The `converge ownership` command group: the manifest (`check`, `graph`), its enforcement in
 * PostgreSQL (`plan`, `apply`, `verify`), what real traffic does (`infer`) and which services are
 * so coupled they might be one (`coupling`). Each subcommand lives in its own file and adds itself.
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { addOwnershipCheckCommand } from './ownership-check.js';
import { addOwnershipCouplingCommand } from './ownership-coupling.js';
import { addOwnershipEnforceCommands } from './ownership-enforce.js';
import { addOwnershipGraphCommand } from './ownership-graph.js';
import { addOwnershipInferCommand } from './ownership-infer.js';

/**
 * Adds `ownership` and its subcommands to the program.
 *
 * @example addOwnershipCommand(program, context);
 */
export function addOwnershipCommand(program: Command, context: CliContext): Command {
  const ownership = program
    .command('ownership')
    .description(
      'data ownership: the manifest (converge.yaml), its checks, enforcement in PostgreSQL, inference from traffic, coupling advice',
    );
  addOwnershipCheckCommand(ownership, context);
  addOwnershipGraphCommand(ownership, context);
  addOwnershipInferCommand(ownership, context);
  addOwnershipCouplingCommand(ownership, context);
  addOwnershipEnforceCommands(ownership, context);
  return ownership;
}
