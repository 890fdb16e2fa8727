/**
 * `converge ownership check -f converge.yaml [--json]`: reads the ownership manifest and lists
 * every problem with its code, where it is (`file:line:column` and the path in the file), what is
 * wrong and the remedy. Exits 0 when the manifest is sound, 3 when it has problems, 2 when the
 * file cannot be read or is not YAML at all (`YAML_SYNTAX`).
 *
 * A file that is YAML but not a mapping (`MANIFEST_NOT_MAPPING`: empty, a list, a single value)
 * exits 3, not 2: the file was read and parsed, and the check found a problem it can place and
 * name, like any wrong type. Exit 2 is kept for "there is nothing to check" (docs/ownership-manifest.md).
 */
import { ConvergeError, type ManifestProblem, parseManifest } from '@converge/core';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { examplesHelp, jsonOption } from '../common-options.js';
import { problemLocation, readManifestFile } from '../manifest-file.js';

interface CheckOptions {
  readonly file: string;
  readonly json?: boolean;
}

/** The manifest `-f` names when it is not given. */
export const DEFAULT_MANIFEST_FILE = 'converge.yaml';

/**
 * Adds `check` to the `ownership` command group.
 *
 * @example addOwnershipCheckCommand(program.command('ownership'), context);
 */
export function addOwnershipCheckCommand(ownership: Command, context: CliContext): Command {
  return ownership
    .command('check')
    .description(
      'check the ownership manifest: shape, names, ownership conflicts, shared tables, references, copies (exit 3 when it finds problems)',
    )
    .option('-f, --file <manifest>', 'the manifest to check', DEFAULT_MANIFEST_FILE)
    .addOption(jsonOption())
    .addHelpText(
      'after',
      [
        '',
        'Each problem: file:line:column  CODE  path, then what is wrong and the remedy.',
        'Exit 0 when sound, 3 when there are problems, 2 when the file cannot be read or is not YAML.',
        'Every code is explained in docs/ownership-manifest.md.',
        examplesHelp(['converge ownership check', 'converge ownership check -f deploy/converge.yaml --json']),
      ].join('\n'),
    )
    .action((options: CheckOptions) => {
      const { problems } = parseManifest(readManifestFile(options.file, context), { file: options.file });
      const syntax = problems.filter((problem) => problem.code === 'YAML_SYNTAX');
      if (syntax.length > 0) throw notYaml(options.file, syntax);
      if (options.json === true) {
        context.output.json({
          file: options.file,
          sound: problems.length === 0,
          problems: problems.map(({ code, path, line, column, message, remedy }) => ({
            code,
            path,
            line,
            column,
            message,
            remedy,
          })),
        });
      } else {
        context.output.result(formatProblems(options.file, problems));
      }
      context.settle(problems.length === 0 ? 'ok' : 'problems');
    });
}

/** Exit 2: a file that is not YAML cannot be checked; the error names where the parser stopped. */
function notYaml(file: string, syntax: readonly ManifestProblem[]): ConvergeError {
  const first = syntax[0] as ManifestProblem;
  return new ConvergeError(
    'MANIFEST_YAML_SYNTAX',
    `The manifest '${file}' is not valid YAML: ${problemLocation(first)} ${first.message} Fix the YAML syntax there, then check again.`,
    { details: { line: first.line, column: first.column, errors: syntax.length } },
  );
}

function formatProblems(file: string, problems: readonly ManifestProblem[]): string {
  if (problems.length === 0) return `${file}: the manifest is sound.`;
  const blocks = problems.map((problem) =>
    [
      `${problemLocation(problem)}  ${problem.code}${problem.path === '' ? '' : `  ${problem.path}`}`,
      `  ${problem.message}`,
      `  Remedy: ${problem.remedy}`,
    ].join('\n'),
  );
  const codes = new Set(problems.map((problem) => problem.code)).size;
  return [
    ...blocks,
    `${file}: ${problems.length} problem(s) of ${codes} kind(s); the manifest is not sound.`,
  ].join('\n\n');
}
