/**
 * Running one Sysops Squad service in the current process. Configured by environment variables
 * (each service knows only its own database and the broker):
 *
 * - `SYSOPS_DATABASE_URL`  the service's own database (`sqlite:…` or `postgres://…`)
 * - `SYSOPS_BROKER_URL`    the SQL log the services publish to and consume from
 * - `SYSOPS_PORT_FILE`     Customer Profile: where to write the HTTP port it listens on
 * - `SYSOPS_GATEWAY_DOWN_FILE`  Billing Payment: the payment gateway is down while this file exists
 * - `SYSOPS_CRASH_AT`      optional, the demo's planned crash at a seam (see `planned-crash.ts`)
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import {
  type Consumer,
  createInbox,
  createOutbox,
  createRelay,
  createSqlLogTransport,
  type FaultInjector,
  type Relay,
  type Storage,
  type Transport,
} from '@converge/core';
import * as audit from './audit.js';
import * as billing from './billing-payment.js';
import * as customerProfile from './customer-profile.js';
import { openServiceDatabase, type ServiceDatabase } from './database.js';
import { AUDIT_RECORDED, CUSTOMER_EVENTS, customerEventSchemas } from './messages.js';
import { plannedCrash } from './planned-crash.js';
import * as support from './support-contract.js';

/** The services this process can run, by name. */
export const SERVICES = [customerProfile.SERVICE, support.SERVICE, billing.SERVICE, audit.SERVICE] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Tables by service: each service creates only its own. */
export const TABLES: Readonly<Record<ServiceName, readonly string[]>> = {
  [customerProfile.SERVICE]: customerProfile.CUSTOMER_PROFILE_TABLES,
  [support.SERVICE]: support.SUPPORT_CONTRACT_TABLES,
  [billing.SERVICE]: billing.BILLING_PAYMENT_TABLES,
  [audit.SERVICE]: audit.AUDIT_TABLES,
};

// Short intervals: the demo kills processes every second or so and should recover as quickly.
const RELAY = { pollIntervalMs: 50, leaseMs: 1_000 } as const;
const TRANSPORT = { pollIntervalMs: 50, leaseMs: 1_000 } as const;
const RETRY = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 800 } as const;
const REDRIVE = { ratePerSecond: 50, probeIntervalMs: 2_000 } as const;

/** What a started service runs and holds. */
export interface Running {
  readonly stoppables: { stop(): Promise<void> }[];
  readonly closables: { close(): Promise<void> }[];
}

/**
 * Starts `service` in this process: its database and tables, its relay, its consumers (and for
 * Customer Profile its HTTP front door). Returns what `stopService` stops.
 */
export async function startService(service: ServiceName): Promise<Running> {
  const db = await openServiceDatabase(required('SYSOPS_DATABASE_URL'), service, TABLES[service]);
  const broker = await openServiceDatabase(required('SYSOPS_BROKER_URL'), `${service} broker`, []);
  const transport = createSqlLogTransport({ storage: broker.storage, ...TRANSPORT });
  const running: Running = { stoppables: [], closables: [db.storage, broker.storage, transport] };
  const outbox = createOutbox({ storage: db.storage, source: service });
  const faults = plannedCrash(process.env.SYSOPS_CRASH_AT);
  running.stoppables.unshift(await startRelay(db.storage, transport, faults));
  const inbox = createInbox({ storage: db.storage, transport, faults });
  const consume = async (consumer: Promise<Consumer>) => running.stoppables.unshift(await consumer);
  const customerEvents = {
    consumer: service,
    types: CUSTOMER_EVENTS,
    sources: [customerProfile.SERVICE],
    schemas: customerEventSchemas,
    retry: RETRY,
    autoRedrive: REDRIVE,
  };
  switch (service) {
    case customerProfile.SERVICE:
      await serveCommands(db, outbox, running);
      break;
    case support.SERVICE:
      await consume(inbox.subscribe(customerEvents, support.contractHandler(db, outbox)));
      break;
    case billing.SERVICE: {
      const gateway = billing.paymentGateway(required('SYSOPS_GATEWAY_DOWN_FILE'));
      await consume(inbox.subscribe(customerEvents, billing.billingHandler(db, outbox, gateway)));
      break;
    }
    case audit.SERVICE:
      await consume(
        inbox.subscribe(
          { consumer: service, types: [AUDIT_RECORDED], retry: RETRY, autoRedrive: REDRIVE },
          audit.auditHandler(db),
        ),
      );
      break;
  }
  return running;
}

async function startRelay(storage: Storage, transport: Transport, faults: FaultInjector): Promise<Relay> {
  const relay = createRelay({ storage, transport, faults, ...RELAY });
  await relay.start();
  return relay;
}

async function serveCommands(db: ServiceDatabase, outbox: ReturnType<typeof createOutbox>, running: Running) {
  const server = customerProfile.createCommandServer(db, outbox);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // Written whole and renamed, so a reader never sees half a number.
  const portFile = required('SYSOPS_PORT_FILE');
  writeFileSync(`${portFile}.tmp`, String(port));
  renameSync(`${portFile}.tmp`, portFile);
  running.stoppables.unshift({
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`set ${name} (see the top of services/start-service.ts)`);
  }
  return value;
}

/** Stops what `startService` started, newest first, then closes its connections. */
export async function stopService(running: Running): Promise<void> {
  for (const part of running.stoppables) await part.stop();
  for (const part of running.closables) await part.close();
}
