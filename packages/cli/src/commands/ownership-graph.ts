/**
 * `converge ownership graph -f converge.yaml [--format mermaid|dot]`: draws the manifest's services,
 * the tables they own, shared tables with their ownership type and technique, reads and copies,
 * as a Mermaid flowchart (the default; renders in GitHub) or a Graphviz digraph. Only a sound
 * manifest is drawn: one with problems exits 2 and points to `converge ownership check`.
 */
import { ownershipGraph } from '@converge/core';
import { type Command, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import { examplesHelp } from '../common-options.js';
import { loadManifest } from '../manifest-file.js';
import { DEFAULT_MANIFEST_FILE } from './ownership-check.js';

interface GraphOptions {
  readonly file: string;
  readonly format: 'mermaid' | 'dot';
}

/**
 * Adds `graph` to the `ownership` command group.
 *
 * @example addOwnershipGraphCommand(program.command('ownership'), context);
 */
export function addOwnershipGraphCommand(ownership: Command, context: CliContext): Command {
  return ownership
    .command('graph')
    .description('draw the manifest: services, owned and shared tables, reads and copies')
    .option('-f, --file <manifest>', 'the manifest to draw', DEFAULT_MANIFEST_FILE)
    .addOption(
      new Option('--format <format>', 'Mermaid flowchart or Graphviz digraph')
        .choices(['mermaid', 'dot'])
        .default('mermaid'),
    )
    .addHelpText(
      'after',
      examplesHelp([
        'converge ownership graph > ownership.mmd',
        'converge ownership graph -f deploy/converge.yaml --format dot | dot -Tsvg > ownership.svg',
      ]),
    )
    .action((options: GraphOptions) => {
      context.output.write('out', ownershipGraph(loadManifest(options.file, context), options.format));
    });
}
