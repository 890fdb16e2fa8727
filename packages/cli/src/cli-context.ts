import type { Outcome } from './exit-codes.js';
import type { Output } from './output.js';
import type { Terminal } from './terminal.js';

/**
 * What a command may use: the environment it was started with, the (masked) output, and a way to
 * say how it ended. Commands never read `process.env` or write to `process.stdout` themselves, and
 * never choose an exit code; `main.ts` does, from the outcome.
 */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly output: Output;
  /** The directory the command was started in: where `converge.config.json` and `--data @file` are looked for. */
  readonly cwd: string;
  /** Whether someone is at a terminal, to confirm bulk actions and watch their progress. */
  readonly terminal: Terminal;
  /** The `@converge/cli` version, for `--version`. */
  readonly version: string;
  /** Records how the command ended when it did not throw; `'ok'` unless called. */
  settle(outcome: Outcome): void;
}
