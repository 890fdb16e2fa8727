/**
 * One saga system (saga-systems.js) in its own process, driven by sagas.js over the protocol of
 * child-side.js. On `run` it keeps `concurrency` sagas in flight (closed loop: each worker starts
 * the next saga when its previous one completed) for a warm-up and then a measured window, and
 * answers `result`. A saga counts when it completed inside the measured window; its latency
 * counts when it also started inside it. The process's CPU time per saga shows what the engine
 * costs in Node (on a machine short of CPU, that limits the rate too).
 *
 * Config (argv[2], JSON): system, systemUrl, systemPoolSize, participantUrls, participantPoolSize.
 */
import { readConfig, send, serve } from './child-side.js';
import { nowMs } from './clock.js';
import { SYSTEMS } from './saga-systems.js';
import { percentile, round } from './stats.js';

const config = readConfig();
const system = await SYSTEMS[config.system](config);
let started = 0;

async function run({ concurrency, warmupMs, durationMs }) {
  const cpuBefore = process.cpuUsage();
  const startedBefore = started;
  const warmupEnd = nowMs() + warmupMs;
  const end = warmupEnd + durationMs;
  const latencies = [];
  let completed = 0;
  let errors = 0;
  let firstError = null;
  let lastEnd = warmupEnd;
  const worker = async () => {
    while (nowMs() < end) {
      const begin = nowMs();
      started += 1;
      try {
        await system.runOne(started);
      } catch (error) {
        errors += 1;
        firstError ??= String(error?.stack ?? error);
        continue;
      }
      const finish = nowMs();
      if (finish < warmupEnd || finish > end) continue;
      completed += 1;
      lastEnd = finish;
      if (begin >= warmupEnd) latencies.push(finish - begin);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (lastEnd - warmupEnd) / 1000;
  const mean = latencies.reduce((sum, l) => sum + l, 0) / Math.max(1, latencies.length);
  return {
    concurrency,
    sagas: completed,
    seconds: round(seconds, 2),
    sagasPerSecond: seconds > 0 ? round(completed / seconds, 1) : 0,
    meanMs: round(mean, 3),
    p50Ms: round(percentile(latencies, 50), 3),
    p99Ms: round(percentile(latencies, 99), 3),
    startedInAll: started,
    /** This process's CPU time (user + system) per saga over the whole run, warm-up included. */
    cpuMsPerSaga: round((cpu.user + cpu.system) / 1000 / Math.max(1, started - startedBefore), 3),
    errors,
    firstError,
  };
}

serve(
  {
    run: (message) => {
      run(message).then(
        (result) => send({ type: 'result', ...result }),
        (error) => send({ type: 'result', errors: 1, firstError: String(error?.stack ?? error) }),
      );
    },
  },
  () => system.close(),
);
send({ type: 'ready' });
