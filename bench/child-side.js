/**
 * The child processes' side of the protocol with `pipeline.js` (over the IPC channel of
 * `child_process.fork`): the configuration arrives as `argv[2]` (JSON), the child sends `ready`,
 * a `stats` sample every `sampleIntervalMs` (RSS, heap, kernel peak RSS and its progress count),
 * and on `stop` it shuts down cleanly, sends `stopped` and exits. A child whose parent is gone
 * (the IPC channel closes) exits at once, so an aborted run leaves no process behind.
 */

import { createPostgresStorage } from '@converge/core/postgres';
import { nowMs } from './clock.js';

/** The configuration the parent passed. */
export function readConfig() {
  return JSON.parse(process.argv[2] ?? '{}');
}

/** Sends a message to the parent if it is still there. */
export function send(message, then) {
  if (process.connected) process.send(message, then);
  else then?.();
}

/**
 * Starts sampling memory every `intervalMs`; `count()` is the child's progress (messages
 * published or applied), `extra()` adds fields of its own.
 */
export function startSampling(intervalMs, count, extra = () => ({})) {
  const sample = () => {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    send({
      type: 'stats',
      atMs: nowMs(),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      // The kernel's high-water mark (ru_maxrss, KiB on Linux): the true peak between samples.
      maxRss: process.resourceUsage().maxRSS * 1024,
      count: count(),
      cpuMs: (cpu.user + cpu.system) / 1000,
      ...extra(),
    });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    sample,
    stop: () => clearInterval(timer),
  };
}

/**
 * Dispatches the parent's messages by `type`, runs `shutdown` on `stop`, and exits when the
 * parent disappears.
 */
export function serve(handlers, shutdown) {
  process.on('disconnect', () => process.exit(1));
  process.on('message', (message) => {
    if (message?.type === 'stop') {
      shutdown().then(
        () => send({ type: 'stopped' }, () => process.exit(0)),
        (error) => {
          console.error(error);
          send({ type: 'stopped', error: String(error) }, () => process.exit(1));
        },
      );
      return;
    }
    handlers[message?.type]?.(message);
  });
}

/** A small pool on `url` for a bench child (its two storages need no more than 2 connections each). */
export function openBenchStorage(connectionString, applicationName) {
  return createPostgresStorage({ connectionString, max: 2, applicationName });
}
