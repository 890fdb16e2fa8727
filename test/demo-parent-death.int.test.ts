/**
 * `converge demo` leaves nothing running when it dies: the demo's process is SIGKILLed (as a
 * test's timeout or the OOM killer does) once its services are up, and every service process it
 * started must be gone soon after, for both patterns.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url));

const dirs: string[] = [];
const started = new Set<ChildProcess>();
/** Service processes that outlived the demo in a failing run: ended by PID, so the machine stays clean. */
const leftovers = new Set<Service>();
afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
  for (const service of leftovers) if (alive(service)) process.kill(service.pid, 'SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A service process, known by its PID and its start time (a PID can be reused). */
interface Service {
  readonly pid: number;
  readonly startTime: string | undefined;
}

const portFiles = (folder: string) =>
  existsSync(folder) ? readdirSync(folder).filter((name) => name.endsWith('.port')).length : 0;

describe('converge demo, killed with SIGKILL', () => {
  it.each([
    // The event demo's Customer Profile writes its port once it serves; the other three start with it.
    { pattern: 'event', services: 4, up: (dir: string) => portFiles(dir) === 1 },
    // Each participant and orchestrator instance writes its port once it serves.
    { pattern: 'orchestrated', services: 5, up: (dir: string) => portFiles(join(dir, 'ports')) === 5 },
  ])(
    '$pattern: every service process it started exits',
    async ({ pattern, services, up }) => {
      const dir = join(mkdtempSync(join(tmpdir(), 'converge-demo-killed-')), 'run');
      dirs.push(dirname(dir));
      const demo = spawn(
        process.execPath,
        [MAIN, 'demo', '--pattern', pattern, '--json', '--no-chaos', '--transactions', '2000', '--dir', dir],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      started.add(demo);
      let stderr = '';
      demo.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      const pid = demo.pid;
      if (pid === undefined) throw new Error(`node ${MAIN} did not start`);
      const upInTime = await until(() => up(dir) && childrenOf(pid).length === services, 60_000);
      expect(upInTime, `the demo's services did not come up: ${stderr}`).toBe(true);

      // Stopped first, so no service starts between reading its children and the kill.
      process.kill(pid, 'SIGSTOP');
      const children: Service[] = childrenOf(pid).map((child) => ({
        pid: child,
        startTime: startTime(child),
      }));
      for (const child of children) leftovers.add(child);
      expect(children).toHaveLength(services);
      const ended = new Promise((resolve) => demo.once('exit', resolve));
      process.kill(pid, 'SIGKILL');
      await ended;
      started.delete(demo);

      // Bounded, not timed: the services have 15 s to notice, far more than they need.
      await until(() => !children.some(alive), 15_000);
      expect(children.filter(alive).map((child) => child.pid)).toEqual([]);
      for (const child of children) leftovers.delete(child);
    },
    90_000,
  );
});

/** The PIDs of `pid`'s children, from every thread's list (Linux /proc). */
function childrenOf(pid: number): number[] {
  const tasks = join('/proc', String(pid), 'task');
  if (!existsSync(tasks)) return [];
  return readdirSync(tasks).flatMap((task) => {
    try {
      return readFileSync(join(tasks, task, 'children'), 'utf8')
        .split(' ')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  });
}

/** Field 22 of /proc/<pid>/stat, so a reused PID is not taken for the same process. */
function startTime(pid: number): string | undefined {
  return stat(pid)?.[19];
}

/** Running: /proc/<pid> exists, is the same process, and is not a zombie waiting to be reaped. */
function alive({ pid, startTime }: Service): boolean {
  const fields = stat(pid);
  return fields !== undefined && fields[0] !== 'Z' && fields[19] === startTime;
}

/** The fields of /proc/<pid>/stat after the command name (state first), or undefined when gone. */
function stat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Resolves true once `condition` holds, checking every 50 ms; false after `limitMs`. */
async function until(condition: () => boolean, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
