import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createTerminal } from './terminal.js';

/** In-memory streams; `tty` marks which of them pretend to be terminals. */
function streams(tty: { stdin?: boolean; stdout?: boolean; stderr?: boolean }) {
  const make = (isTTY: boolean | undefined) => Object.assign(new PassThrough(), { isTTY: isTTY === true });
  const stdin = make(tty.stdin);
  const stdout = make(tty.stdout);
  const stderr = make(tty.stderr);
  let screen = '';
  stderr.setEncoding('utf8').on('data', (chunk: string) => {
    screen += chunk;
  });
  return { stdin, stdout, stderr, screen: () => screen };
}

describe('createTerminal', () => {
  it('is interactive only when stdin and stdout are both terminals', () => {
    expect(createTerminal(streams({ stdin: true, stdout: true })).interactive).toBe(true);
    expect(createTerminal(streams({ stdin: true })).interactive).toBe(false);
    expect(createTerminal(streams({ stdout: true, stderr: true })).interactive).toBe(false);
  });

  it('confirms only on y or yes, asking on stderr', async () => {
    for (const [answer, expected] of [
      ['y\n', true],
      ['YES\n', true],
      ['n\n', false],
      ['\n', false],
      ['yep\n', false],
    ] as const) {
      const s = streams({ stdin: true, stdout: true });
      const terminal = createTerminal(s);
      const confirmed = terminal.confirm('Replay 3 dead letter(s)?');
      s.stdin.end(answer);
      expect({ answer, confirmed: await confirmed }).toEqual({ answer, confirmed: expected });
      expect(s.screen()).toContain('Replay 3 dead letter(s)? [y/N] ');
    }
  });

  it('draws a progress bar on stderr only when stderr is a terminal', () => {
    const off = streams({});
    const silent = createTerminal(off).progress(3, 'Replay');
    silent.tick();
    silent.stop();
    expect(off.screen()).toBe('');

    const on = streams({ stderr: true });
    const bar = createTerminal(on).progress(2, 'Replay');
    bar.tick();
    bar.stop();
    expect(on.screen()).toMatch(/Replay \[[=-]+\] 0\/2 0%/);
  });
});
