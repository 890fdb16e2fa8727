/**
 * A fresh pipeline per test, on one backend: registers its own beforeEach/afterEach, and gives
 * the test `pipeline()` and `send(key)` (a producer transaction appending one message).
 */
import { afterEach, beforeEach } from 'vitest';
import type { Envelope } from '../../packages/core/src/index.js';
import type { Backend, TestDatabases } from './backends.js';
import { createPipeline, type Pipeline } from './pipeline.js';

export interface PipelineFixture {
  pipeline(): Pipeline;
  send(key: string, type?: string): Promise<Envelope>;
}

export function usePipeline(backend: Backend): PipelineFixture {
  let databases: TestDatabases | null = null;
  let current: Pipeline | null = null;
  beforeEach(async () => {
    databases = (await backend.create())!;
    current = await createPipeline(backend, databases);
  });
  afterEach(async () => {
    await current?.stop();
    await databases?.cleanup();
    current = null;
    databases = null;
  });
  const pipeline = () => {
    if (current === null) throw new Error('the pipeline exists only inside a test');
    return current;
  };
  return {
    pipeline,
    async send(key, type = 'customer.unsubscribed') {
      const p = pipeline();
      const [message] = await p.producer.transaction((tx) => p.outbox.append(tx, [{ type, key, data: {} }]));
      return message!;
    },
  };
}
