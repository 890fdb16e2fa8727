#!/usr/bin/env node
/**
 * The `converge` executable. This file alone decides the process's exit code: it runs the command
 * line, then maps the outcome or the error to the numbers in `exit-codes.ts`. Nothing else in
 * Converge calls `process.exit` or sets `process.exitCode`.
 */
import { readFileSync } from 'node:fs';
import { describeError, isConvergeError, maskSecrets } from '@converge/core';
import { CommanderError } from 'commander';
import { ExitCode, outcomeOf } from './exit-codes.js';
import { createOutput, type Output } from './output.js';
import { runCli } from './program.js';
import { createTerminal } from './terminal.js';

async function main(): Promise<number> {
  const output = createOutput({
    writeOut: (text) => process.stdout.write(text),
    writeErr: (text) => process.stderr.write(text),
  });
  const debug = process.env.CONVERGE_DEBUG === '1';
  try {
    const result = await runCli(process.argv.slice(2), {
      env: process.env,
      output,
      cwd: process.cwd(),
      terminal: createTerminal(process),
      version: readVersion(),
    });
    if (result.kind === 'done') return ExitCode[result.outcome];
    return reportFailure(result.error, { json: result.json, debug, output });
  } catch (error) {
    return reportFailure(error, { json: false, debug, output });
  }
}

/** Prints `error` (masked, on stderr) and returns the exit code it maps to. */
function reportFailure(
  error: unknown,
  { json, debug, output }: { json: boolean; debug: boolean; output: Output },
): number {
  // Commander has already printed its message (or the help, or the version).
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;

  const known = isConvergeError(error);
  const exitCode = known ? ExitCode[outcomeOf(error.code)] : ExitCode.failure;
  const code = known ? error.code : 'UNEXPECTED';
  const message = known
    ? error.message
    : `unexpected error: ${describeError(error).message}${debug ? '' : ' (set CONVERGE_DEBUG=1 for the stack trace)'}`;
  if (json) output.log(JSON.stringify({ error: { code, message, exitCode } }));
  else output.log(`converge: ${message}`);
  if (debug) output.log(describeChain(error));
  return exitCode;
}

/** The stack of `error` and of each of its causes, for `CONVERGE_DEBUG=1`. */
function describeChain(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 10; depth += 1) {
    const text = current instanceof Error ? (current.stack ?? current.message) : String(current);
    lines.push(depth === 0 ? text : `Caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join('\n');
}

function readVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

// A reader that goes away early (`converge migrate --dry-run | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

main().then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    process.stderr.write(`converge: ${maskSecrets(describeError(error).message)}\n`);
    process.exitCode = ExitCode.failure;
  },
);
