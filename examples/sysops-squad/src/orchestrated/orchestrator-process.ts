/**
 * One instance of the orchestrating service: a Converge orchestrator on the service's own
 * database (its sagas and their transition logs), running the _customer unsubscribes_ saga, and an
 * HTTP door to start one: `POST /sagas/customer-unsubscribes` `{ requestId, customerId }` answers
 * 202 `{ sagaId, created }`. The `requestId` is the start's idempotency key, so a client that
 * retries after a lost answer (this instance was killed) gets the same saga, not a second one.
 *
 * Any number of instances run side by side on one database; each claims sagas with a lease, and
 * a killed instance's sagas are taken over by another when the lease (2 s here) runs out.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  ConvergeError,
  createOrchestrator,
  describeError,
  type FaultInjector,
  type Logger,
  type Orchestrator,
} from '@converge/core';
import type { ServiceDatabase } from '../services/database.js';
import type { ParticipantName } from './participant-server.js';
import { UNSUBSCRIBE_SAGA, unsubscribeSaga } from './unsubscribe-saga.js';

/** Short intervals: the demo kills instances every second or so and should recover as quickly. */
const ORCHESTRATOR = {
  leaseMs: 2_000,
  pollIntervalMs: 100,
  heartbeatIntervalMs: 1_000,
  concurrency: 32,
} as const;

/** The route that starts a saga. */
export const START_ROUTE = `/sagas/${UNSUBSCRIBE_SAGA}`;

export interface OrchestratorProcessOptions {
  readonly db: ServiceDatabase;
  /** Names this instance in its orchestrator id (with the process id, new per incarnation). */
  readonly instance: string;
  /** Where each participant wrote the port it listens on (`<service>.port`). */
  readonly portsDir: string;
  readonly faults: FaultInjector;
  readonly logger: Logger;
}

/** Starts the orchestrator; returns it and its HTTP door (not yet listening). */
export async function startOrchestratorProcess(
  options: OrchestratorProcessOptions,
): Promise<{ readonly orchestrator: Orchestrator; readonly server: Server }> {
  const participantUrl = (service: ParticipantName) => {
    // Read on every call: a restarted participant listens on a new port.
    const port = readFileSync(join(options.portsDir, `${service}.port`), 'utf8').trim();
    return `http://127.0.0.1:${port}`;
  };
  const saga = unsubscribeSaga(participantUrl);
  const orchestrator = createOrchestrator({
    storage: options.db.storage,
    definitions: [saga],
    orchestratorId: `${options.instance}-${process.pid}`,
    faults: options.faults,
    logger: options.logger,
    ...ORCHESTRATOR,
  });
  await orchestrator.start();
  const server = createServer((request, response) => {
    serve(orchestrator, request, response).catch((error: unknown) => {
      options.logger.error({ error: describeError(error) }, 'could not start a saga');
      answer(response, 503, { error: describeError(error).message });
    });
  });
  return { orchestrator, server };
}

async function serve(orchestrator: Orchestrator, request: IncomingMessage, response: ServerResponse) {
  if (request.method !== 'POST' || request.url !== START_ROUTE) {
    answer(response, 404, { error: `POST ${START_ROUTE} is the only route` });
    return;
  }
  let text = '';
  for await (const chunk of request) text += String(chunk);
  let body: { requestId?: unknown; customerId?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    answer(response, 400, { error: 'the body is not JSON' });
    return;
  }
  if (typeof body.requestId !== 'string' || body.requestId === '') {
    answer(response, 400, { error: 'requestId is missing' });
    return;
  }
  try {
    const started = await orchestrator.startSaga(
      UNSUBSCRIBE_SAGA,
      { customerId: body.customerId },
      { idempotencyKey: body.requestId },
    );
    answer(response, 202, started);
  } catch (error) {
    if (error instanceof ConvergeError && error.code === 'SAGA_INPUT_INVALID') {
      answer(response, 400, { error: error.message });
      return;
    }
    throw error;
  }
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
