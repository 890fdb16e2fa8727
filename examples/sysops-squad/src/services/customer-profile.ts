/**
 * Customer Profile: the owner of `customer`. It takes commands over HTTP (`POST /commands`), and
 * each one is one local transaction that changes the customer row *and* appends the event
 * announcing it (plus an `audit.recorded` for the Audit service) to its outbox. Its relay moves
 * committed messages to the broker.
 *
 * Every command carries a `requestId` (an idempotency key): it is recorded in the same
 * transaction, so a client that retries after a lost answer (this process was killed after the
 * commit) gets `duplicate` and no second change.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Outbox, Transaction } from '@converge/core';
import type { ServiceDatabase } from './database.js';
import { AUDIT_RECORDED, CustomerEvent } from './messages.js';

export const SERVICE = 'customer-profile';

export const CUSTOMER_PROFILE_TABLES: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS customer (id TEXT PRIMARY KEY, status TEXT NOT NULL, plan TEXT NOT NULL, changes INTEGER NOT NULL)',
  'CREATE TABLE IF NOT EXISTS request (id TEXT PRIMARY KEY, outcome TEXT NOT NULL)',
];

export type CommandAction = 'subscribe' | 'change-plan' | 'unsubscribe';

export interface Command {
  readonly requestId: string;
  readonly customerId: string;
  readonly action: CommandAction;
  /** For `subscribe` and `change-plan`. */
  readonly plan?: string;
}

/** `applied`; `duplicate` (this requestId was seen); `rejected` (not allowed in the customer's state). */
export type CommandOutcome = 'applied' | 'duplicate' | 'rejected';

interface CustomerRow {
  readonly status: 'active' | 'unsubscribed';
  readonly plan: string;
}

/** Runs one command in one transaction of Customer Profile's database. */
export async function handleCommand(
  db: ServiceDatabase,
  outbox: Outbox,
  command: Command,
): Promise<CommandOutcome> {
  const { p } = db;
  return db.storage.transaction(async (tx) => {
    const fresh = await tx.execute(
      `INSERT INTO request (id, outcome) VALUES (${p(1)}, 'pending') ON CONFLICT (id) DO NOTHING`,
      [command.requestId],
    );
    if (fresh === 0) return 'duplicate';
    const [current] = await tx.query<CustomerRow>(`SELECT status, plan FROM customer WHERE id = ${p(1)}`, [
      command.customerId,
    ]);
    const change = nextState(current, command);
    const outcome: CommandOutcome = change === null ? 'rejected' : 'applied';
    if (change !== null) await apply(tx, db, outbox, command, change);
    await tx.execute(`UPDATE request SET outcome = ${p(1)} WHERE id = ${p(2)}`, [outcome, command.requestId]);
    return outcome;
  });
}

interface Change {
  readonly row: CustomerRow;
  readonly event: CustomerEvent;
}

/** The customer's life: subscribe → (change plan)* → unsubscribe → subscribe again … */
function nextState(current: CustomerRow | undefined, command: Command): Change | null {
  const active = current?.status === 'active';
  switch (command.action) {
    case 'subscribe':
      return active || command.plan === undefined
        ? null
        : { row: { status: 'active', plan: command.plan }, event: CustomerEvent.SUBSCRIBED };
    case 'change-plan':
      return !active || command.plan === undefined
        ? null
        : { row: { status: 'active', plan: command.plan }, event: CustomerEvent.PLAN_CHANGED };
    case 'unsubscribe':
      return !active
        ? null
        : { row: { status: 'unsubscribed', plan: current.plan }, event: CustomerEvent.UNSUBSCRIBED };
  }
}

async function apply(
  tx: Transaction,
  { p }: ServiceDatabase,
  outbox: Outbox,
  command: Command,
  change: Change,
): Promise<void> {
  await tx.execute(
    `INSERT INTO customer (id, status, plan, changes) VALUES (${p(1)}, ${p(2)}, ${p(3)}, 1)
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, plan = excluded.plan, changes = customer.changes + 1`,
    [command.customerId, change.row.status, change.row.plan],
  );
  const data = change.event === CustomerEvent.UNSUBSCRIBED ? {} : { plan: change.row.plan };
  await outbox.append(tx, [
    { type: change.event, key: command.customerId, data: { customerId: command.customerId, ...data } },
    {
      type: AUDIT_RECORDED,
      key: command.customerId,
      data: { service: SERVICE, action: change.event, subject: command.customerId },
    },
  ]);
}

/** The HTTP front door: `POST /commands` with a `Command` as JSON; answers `{ "outcome": … }`. */
export function createCommandServer(db: ServiceDatabase, outbox: Outbox) {
  return createServer((request, response) => {
    serve(db, outbox, request, response).catch((error: unknown) => {
      answer(response, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
}

async function serve(
  db: ServiceDatabase,
  outbox: Outbox,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  if (request.method !== 'POST' || request.url !== '/commands') {
    answer(response, 404, { error: 'POST /commands is the only route' });
    return;
  }
  let body = '';
  for await (const chunk of request) body += String(chunk);
  const command = parseCommand(body);
  if (typeof command === 'string') {
    answer(response, 400, { error: command });
    return;
  }
  answer(response, 200, { outcome: await handleCommand(db, outbox, command) });
}

const ACTIONS: readonly string[] = ['subscribe', 'change-plan', 'unsubscribe'];

/** The command in `body`, or what is wrong with it. */
function parseCommand(body: string): Command | string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'the body is not JSON';
  }
  const command = value as Partial<Record<keyof Command, unknown>>;
  if (typeof command.requestId !== 'string' || command.requestId.length === 0) return 'requestId is missing';
  if (typeof command.customerId !== 'string' || command.customerId.length === 0)
    return 'customerId is missing';
  if (typeof command.action !== 'string' || !ACTIONS.includes(command.action)) {
    return `action must be one of ${ACTIONS.join(', ')}`;
  }
  if (command.plan !== undefined && typeof command.plan !== 'string') return 'plan must be a string';
  return command as Command;
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
