/**
 * Runs a crash-test child (a Node script) as a process of its own and reports how it ended.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface ChildEnd {
  readonly code: number | null;
  readonly signal: string | null;
  /** The last 4000 characters it wrote to stderr. */
  readonly stderr: string;
}

/**
 * Starts `script` with `env` added to this process's environment. The child is in `running` until
 * it exits, so that a test's `afterAll` can kill what is left; it is killed after `limitMs`
 * (default 150 s: longer than a child waits for its saga), so every run ends.
 */
export function runChildProcess(
  script: string,
  env: Record<string, string>,
  running: Set<ChildProcess>,
  limitMs = 150_000,
): { readonly child: ChildProcess; readonly ended: Promise<ChildEnd> } {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const limit = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const ended = new Promise<ChildEnd>((resolve) => {
    child.once('exit', (code, signal) => {
      clearTimeout(limit);
      running.delete(child);
      resolve({ code, signal, stderr });
    });
  });
  return { child, ended };
}
