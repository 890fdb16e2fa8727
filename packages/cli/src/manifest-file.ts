/**
 * The ownership manifest (`converge.yaml`) as the `converge ownership` commands read it from `-f`:
 * the text of the file, or only a sound manifest. A manifest with problems never reaches
 * enforcement, inference or a graph; `converge ownership check` is the command that lists them.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConvergeError, type Manifest, type ManifestProblem, parseManifest } from '@converge/core';
import type { CliContext } from './cli-context.js';

/** How many problems an error message shows before it points to `converge ownership check`. */
const SHOWN_PROBLEMS = 3;

/**
 * The text of the manifest `file` (relative to the directory the command was started in).
 *
 * @throws ConvergeError `MANIFEST_UNREADABLE` (exit 2) when the file does not exist, is a
 *   directory or cannot be read, naming the file and the system's reason (`ENOENT`, `EACCES`, …).
 * @example const text = readManifestFile('converge.yaml', context);
 */
export function readManifestFile(file: string, context: CliContext): string {
  try {
    return readFileSync(resolve(context.cwd, file), 'utf8');
  } catch (cause) {
    throw new ConvergeError(
      'MANIFEST_UNREADABLE',
      `The manifest '${file}' cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'}); give the path of your converge.yaml with -f.`,
      { cause },
    );
  }
}

/**
 * Reads and checks the manifest `file`; returns it only when it is sound.
 *
 * @throws ConvergeError `MANIFEST_UNREADABLE` (see `readManifestFile`), or `MANIFEST_INVALID`
 *   (exit 2) when the file has any problem: the message shows the first three as
 *   `file:line:column CODE message` and the command that lists them all.
 * @example const manifest = loadManifest(options.file, context);
 */
export function loadManifest(file: string, context: CliContext): Manifest {
  const { manifest, problems } = parseManifest(readManifestFile(file, context), { file });
  if (manifest !== undefined) return manifest;
  const shown = problems
    .slice(0, SHOWN_PROBLEMS)
    .map((problem) => `\n  ${problemLocation(problem)} ${problem.code} ${problem.message}`)
    .join('');
  throw new ConvergeError(
    'MANIFEST_INVALID',
    `The manifest '${file}' has ${problems.length} problem(s), so the command cannot use it:${shown}\nRun 'converge ownership check -f ${file}' for all of them and their remedies.`,
    { details: { problems: problems.length } },
  );
}

/** `file:line:column`, the form editors and CI annotations jump to. */
export function problemLocation(problem: ManifestProblem): string {
  return `${problem.file}:${problem.line}:${problem.column}`;
}
