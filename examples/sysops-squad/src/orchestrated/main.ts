/**
 * One process of the orchestrated _customer unsubscribes_: `node main.js <role>`, where the role is
 * a participant (`customer-profile`, `support-contract`, `billing-payment`) or `orchestrator`.
 * Configured by environment variables:
 *
 * - `SYSOPS_DATABASE_URL`       the process's own database (`sqlite:…` or `postgres://…`)
 * - `SYSOPS_PORTS_DIR`          where every process writes the HTTP port it listens on
 * - `SYSOPS_INSTANCE`           the name of the port file (default: the role), e.g. `orchestrator-1`
 * - `SYSOPS_GATEWAY_DOWN_FILE`  Billing Payment: the payment gateway is down while this file exists
 * - `SYSOPS_CRASH_AT`           optional, the demo's planned crash at a seam (see `planned-crash.ts`)
 *
 * Prints `ready` on stdout once it serves; runs until SIGTERM (a clean stop) or SIGKILL, or until
 * the demo that started it is gone.
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describeError, type Logger } from '@converge/core';
import { openServiceDatabase } from '../services/database.js';
import { exitWithParent } from '../services/exit-with-parent.js';
import { plannedCrash } from '../services/planned-crash.js';
import { startOrchestratorProcess } from './orchestrator-process.js';
import { createParticipantServer, PARTICIPANTS, type ParticipantName } from './participant-server.js';
import { PARTICIPANT_TABLES, participantPart } from './participants.js';

const ROLES: readonly string[] = [...PARTICIPANTS, 'orchestrator'];

/** Warnings and errors as JSON lines on stderr (the demo keeps them in the process's log). */
const logger: Logger = {
  debug() {},
  info() {},
  warn: (fields, message) =>
    process.stderr.write(`${JSON.stringify({ level: 'warn', message, ...fields })}\n`),
  error: (fields, message) =>
    process.stderr.write(`${JSON.stringify({ level: 'error', message, ...fields })}\n`),
};

async function start(role: string): Promise<() => Promise<void>> {
  const url = required('SYSOPS_DATABASE_URL');
  const portsDir = required('SYSOPS_PORTS_DIR');
  const faults = plannedCrash(process.env.SYSOPS_CRASH_AT);
  let server: Server;
  let stop: () => Promise<void>;
  if (role === 'orchestrator') {
    const db = await openServiceDatabase(url, 'orchestrator', []);
    const instance = process.env.SYSOPS_INSTANCE || role;
    const started = await startOrchestratorProcess({ db, instance, portsDir, faults, logger });
    server = started.server;
    stop = async () => {
      await started.orchestrator.stop();
      await db.storage.close();
    };
  } else {
    const service = role as ParticipantName;
    const db = await openServiceDatabase(url, service, PARTICIPANT_TABLES[service]);
    const part = participantPart(service, db, required('SYSOPS_GATEWAY_DOWN_FILE'));
    server = createParticipantServer(db, part, faults, logger);
    stop = () => db.storage.close();
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // Written whole and renamed, so a reader never sees half a number.
  const portFile = join(portsDir, `${process.env.SYSOPS_INSTANCE || role}.port`);
  writeFileSync(`${portFile}.tmp`, String(port));
  renameSync(`${portFile}.tmp`, portFile);
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stop();
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`set ${name} (see the top of orchestrated/main.ts)`);
  }
  return value;
}

exitWithParent();
const role = process.argv[2] ?? '';
if (!ROLES.includes(role)) {
  process.stderr.write(`sysops-squad (orchestrated): name a role: ${ROLES.join(', ')}\n`);
  process.exit(2);
}
start(role).then(
  (stop) => {
    process.stdout.write('ready\n');
    process.once('SIGTERM', async () => {
      await stop();
      process.exit(0);
    });
  },
  (error: unknown) => {
    process.stderr.write(`${role} failed to start: ${JSON.stringify(describeError(error))}\n`);
    process.exit(1);
  },
);
