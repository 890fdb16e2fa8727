import { describe, expect, it } from 'vitest';
import { AsyncMutex } from './mutex.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Lets every pending promise callback and I/O-phase callback run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('AsyncMutex', () => {
  it('does not start a section while the previous one is awaiting', async () => {
    const mutex = new AsyncMutex();
    const log: string[] = [];
    const gate = deferred();

    const first = mutex.run(async () => {
      log.push('first start');
      await gate.promise;
      log.push('first end');
      return 1;
    });
    const second = mutex.run(async () => {
      log.push('second start');
      await settle();
      log.push('second end');
      return 'two';
    });
    const third = mutex.run(() => {
      log.push('third');
      return { three: 3 };
    });

    await settle();
    expect(log).toEqual(['first start']);

    gate.resolve();
    expect(await Promise.all([first, second, third])).toEqual([1, 'two', { three: 3 }]);
    expect(log).toEqual(['first start', 'first end', 'second start', 'second end', 'third']);
  });

  it('runs many awaiting sections one at a time, in call order', async () => {
    const mutex = new AsyncMutex();
    const started: number[] = [];
    let active = 0;
    let mostActive = 0;

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        mutex.run(async () => {
          active += 1;
          mostActive = Math.max(mostActive, active);
          started.push(i);
          // Sections that wait longer come first, so a mutex that let them overlap would reorder.
          for (let tick = 0; tick < 10 - i; tick += 1) await settle();
          active -= 1;
          return i * 10;
        }),
      ),
    );

    expect(mostActive).toBe(1);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  it('rejects only the caller of a failed section and runs the next one', async () => {
    const mutex = new AsyncMutex();
    const failing = mutex.run(async () => {
      await settle();
      throw new Error('constraint violated');
    });
    const throwing = mutex.run(() => {
      throw new Error('thrown synchronously');
    });
    const next = mutex.run(() => 'next');

    await expect(failing).rejects.toThrow('constraint violated');
    await expect(throwing).rejects.toThrow('thrown synchronously');
    await expect(next).resolves.toBe('next');
    await expect(mutex.run(async () => 'later')).resolves.toBe('later');
  });
});
