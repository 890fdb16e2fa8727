/**
 * Runs the built `converge` command (`packages/cli/dist/main.js`) as a real process, the way a
 * user or a CI job does. Build first: `npx tsc -b packages/core packages/cli` (`npm test` does it).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const DEFAULT_TIMEOUT_MS = 30_000;

/** What one run of the command did. */
export interface ConvergeRun {
  /** The exit code; null when the process was killed by a signal. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node dist/main.js ...args` in `options.cwd` (default: this process's directory). The
 * environment is this process's, without the variables Converge reads (`CONVERGE_DATABASE_URL`,
 * `CONVERGE_DEBUG`), plus `env`. Killed, and rejected, after `options.timeoutMs` (default 30 s).
 */
export function runConverge(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  options: { readonly cwd?: string; readonly timeoutMs?: number } = {},
): Promise<ConvergeRun> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const child = spawn(process.execPath, [built(), ...args], {
    env: childEnv(env),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child, args, timeoutMs);
}

/** Whether `script` (util-linux) is installed, to give the command a pseudo-terminal. */
export const terminalAvailable = spawnSync('script', ['--version']).status === 0;

/**
 * Runs the command the way a person at a terminal does: stdin, stdout and stderr are a
 * pseudo-terminal (made by `script`), `input` is typed into it, and what the screen showed (stdout
 * and stderr together, with the terminal's control sequences) comes back as `stdout`.
 */
export function runConvergeOnTerminal(
  args: readonly string[],
  input: string,
  env: Readonly<Record<string, string>> = {},
): Promise<ConvergeRun> {
  const command = [process.execPath, built(), ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`);
  const child = spawn('script', ['--quiet', '--return', '--command', command.join(' '), '/dev/null'], {
    env: childEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end(input);
  return collect(child, args);
}

function built(): string {
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} does not exist: build first with 'npx tsc -b packages/core packages/cli'.`);
  }
  return MAIN;
}

function childEnv(env: Readonly<Record<string, string>>): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = { ...process.env, ...env };
  if (!('CONVERGE_DATABASE_URL' in env)) delete result.CONVERGE_DATABASE_URL;
  if (!('CONVERGE_DEBUG' in env)) delete result.CONVERGE_DEBUG;
  return result;
}

function collect(
  child: ChildProcess,
  args: readonly string[],
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ConvergeRun> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`converge ${args.join(' ')} did not exit within ${timeoutMs} ms.\n${stderr}`));
    }, timeoutMs);
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
