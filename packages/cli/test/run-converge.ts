/**
 * Runs the built `converge` command (`packages/cli/dist/main.js`) as a real process, the way a
 * user or a CI job does. Build first: `npx tsc -b packages/core packages/cli` (`npm test` does it).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const TIMEOUT_MS = 30_000;

/** What one run of the command did. */
export interface ConvergeRun {
  /** The exit code; null when the process was killed by a signal. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node dist/main.js ...args`. The environment is this process's, without the variables
 * Converge reads (`CONVERGE_DATABASE_URL`, `CONVERGE_DEBUG`), plus `env`.
 */
export function runConverge(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<ConvergeRun> {
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} does not exist: build first with 'npx tsc -b packages/core packages/cli'.`);
  }
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  if (!('CONVERGE_DATABASE_URL' in env)) delete childEnv.CONVERGE_DATABASE_URL;
  if (!('CONVERGE_DEBUG' in env)) delete childEnv.CONVERGE_DEBUG;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`converge ${args.join(' ')} did not exit within ${TIMEOUT_MS} ms.\n${stderr}`));
    }, TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
