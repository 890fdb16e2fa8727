/** Small statistics and the description of the machine the benchmark ran on. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The p-th percentile (0–100) of `values` by nearest rank; NaN when empty. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Rounds to `digits` decimals (for reports). */
export function round(value, digits = 1) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

const MB = 1024 * 1024;

/**
 * Summarises a child's memory samples over a run of `total` messages: the peak (kernel
 * high-water mark and largest sample) and the RSS when its progress first reached 10 %, 50 % and
 * 100 % of `total`.
 */
export function summariseMemory(samples, total) {
  const at = (fraction) => {
    const sample = samples.find((s) => s.count >= fraction * total) ?? samples.at(-1);
    return sample === undefined ? null : round(sample.rss / MB);
  };
  const peakSampled = Math.max(0, ...samples.map((s) => s.rss));
  const peakKernel = Math.max(0, ...samples.map((s) => s.maxRss));
  return {
    peakRssMb: round(Math.max(peakSampled, peakKernel) / MB),
    peakSampledRssMb: round(peakSampled / MB),
    startRssMb: samples.length === 0 ? null : round(samples[0].rss / MB),
    rssAt10PercentMb: at(0.1),
    rssAt50PercentMb: at(0.5),
    rssAt100PercentMb: at(1),
    peakHeapUsedMb: round(Math.max(0, ...samples.map((s) => s.heapUsed)) / MB),
    samples: samples.length,
    /** At most 50 evenly spaced samples: [progress count, RSS in MB]. */
    series: samples
      .filter((_, i) => i % Math.max(1, Math.ceil(samples.length / 50)) === 0 || i === samples.length - 1)
      .map((s) => [s.count, round(s.rss / MB)]),
  };
}

/** Cores, memory, Node, OS, and the server's version and durability settings. */
export async function describeMachine(admin) {
  const setting = async (name) => (await admin.query(`SHOW ${name}`)).rows[0][name];
  let osName = `${os.type()} ${os.release()}`;
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (pretty) osName = `${pretty[1]} (${os.type()} ${os.release()})`;
  } catch {
    // Not Linux, or no os-release: the kernel name will do.
  }
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    os: osName,
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    postgres: (await admin.query('SELECT version()')).rows[0].version,
    postgresSettings: {
      synchronous_commit: await setting('synchronous_commit'),
      fsync: await setting('fsync'),
      wal_sync_method: await setting('wal_sync_method'),
      commit_delay: await setting('commit_delay'),
      shared_buffers: await setting('shared_buffers'),
      max_connections: await setting('max_connections'),
    },
  };
}
