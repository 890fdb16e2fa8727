/**
 * The relay as its own process: moves the producer database's outbox to the SQL log in the broker
 * database, and reports how many messages the transport accepted (its progress) with its memory.
 *
 * Config (argv[2], JSON): producerUrl, brokerUrl, batchSize, pollIntervalMs,
 * transportPollIntervalMs, sampleIntervalMs.
 */
import { createRelay, createSqlLogTransport } from '@converge/core';
import { openBenchStorage, readConfig, send, serve, startSampling } from './child-side.js';

const config = readConfig();
const producer = openBenchStorage(config.producerUrl, 'converge-bench-relay');
const broker = openBenchStorage(config.brokerUrl, 'converge-bench-relay');
const transport = createSqlLogTransport({ storage: broker, pollIntervalMs: config.transportPollIntervalMs });
let published = 0;
/** The transport, counting what it accepted. */
const counted = {
  ...transport,
  async publish(messages) {
    await transport.publish(messages);
    published += messages.length;
  },
};
const relay = createRelay({
  storage: producer,
  transport: counted,
  batchSize: config.batchSize,
  pollIntervalMs: config.pollIntervalMs,
});

await relay.start();
const sampling = startSampling(config.sampleIntervalMs, () => published);
serve({}, async () => {
  await relay.stop();
  await transport.close();
  await Promise.all([producer.close(), broker.close()]);
  sampling.sample();
  sampling.stop();
});
send({ type: 'ready' });
