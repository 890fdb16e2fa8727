/**
 * What the command knows about the person in front of it: whether there is one (stdin and stdout
 * are terminals), a yes/no question, and a progress bar on stderr when stderr is a terminal. A
 * pipe, a CI job or a cron script gets no question and no bar.
 */
import { createInterface } from 'node:readline/promises';
import { SingleBar } from 'cli-progress';

/** A running progress display; does nothing when there is no terminal to draw on. */
export interface Progress {
  /** One more item is done. */
  tick(): void;
  /** Removes the bar; call it before printing the result. */
  stop(): void;
}

export interface Terminal {
  /** True when stdin and stdout are both terminals: someone can read a question and answer it. */
  readonly interactive: boolean;
  /** Asks `question` on stderr and reads the answer from stdin; true only for `y` or `yes`. */
  confirm(question: string): Promise<boolean>;
  /** A progress bar over `total` items on stderr when stderr is a terminal; otherwise a no-op. */
  progress(total: number, label: string): Progress;
}

/** The streams of the process, as far as `createTerminal` needs them. */
export interface TerminalStreams {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean };
}

const NO_PROGRESS: Progress = Object.freeze({ tick: () => undefined, stop: () => undefined });

/**
 * The terminal of this process.
 *
 * @example const terminal = createTerminal(process); if (terminal.interactive && (await terminal.confirm('Replay 3 dead letters?'))) …
 */
export function createTerminal(streams: TerminalStreams): Terminal {
  return Object.freeze({
    interactive: streams.stdin.isTTY === true && streams.stdout.isTTY === true,
    async confirm(question: string): Promise<boolean> {
      const readline = createInterface({ input: streams.stdin, output: streams.stderr });
      try {
        const answer = await readline.question(`${question} [y/N] `);
        return /^(y|yes)$/i.test(answer.trim());
      } finally {
        readline.close();
      }
    },
    progress(total: number, label: string): Progress {
      if (streams.stderr.isTTY !== true || total === 0) return NO_PROGRESS;
      const bar = new SingleBar({
        stream: streams.stderr,
        format: `${label} [{bar}] {value}/{total} {percentage}% | {eta_formatted} left`,
        clearOnComplete: true,
        hideCursor: true,
      });
      bar.start(total, 0);
      return { tick: () => bar.increment(), stop: () => bar.stop() };
    },
  });
}
