/**
 * Reads the coupling evidence of every service of a manifest from the databases it lives in, for
 * `converge ownership coupling`. Each service's database is the manifest's `database` (with
 * `${NAME}` expanded from the environment), or `--database` for all of them when they share one.
 * A database is read once, however many services name it. In a database of one service
 * everything Converge recorded there is that service's; in a database several services share, a
 * produced message belongs to the service its `source` names, a receipt or failure to the service
 * its consumer names (`billing-payment` or `billing-payment-invoices` for `billing_payment`).
 *
 * The sagas a database holds were orchestrated by its service. In a database several services
 * share, the orchestrator cannot be told: a saga is given to one of those services that its steps
 * call (which adds no pair the steps do not already make), and a saga none of them takes part in
 * is left out with a warning rather than guessed.
 *
 * A database that cannot be read does not stop the others: its services are reported as missing,
 * with the reason (the URL's password masked), and the pairs they belong to say so.
 */
import { existsSync } from 'node:fs';
import {
  expandDatabaseUrl,
  type FailureEvidence,
  type Manifest,
  maskSecrets,
  parseDatabaseUrl,
  type ReceiptEvidence,
  type SagaEvidence,
  type ServiceEvidence,
  serviceNameOf,
} from '@converge/core';
import { withStorage } from '../open-storage.js';

/** What was read for one service, for the report. */
export interface ServiceReading {
  readonly service: string;
  /** Its database, password masked; `undefined` when the URL could not be made. */
  readonly database: string | undefined;
  /** Why nothing was read for it; absent when its evidence was read. */
  readonly problem?: string;
  readonly produced: number;
  readonly receipts: number;
  readonly failures: number;
  /** Sagas read from its database and counted as orchestrated by it. */
  readonly sagas: number;
}

/** The evidence by service, what was read where, and what the reader should know. */
export interface CouplingEvidenceReading {
  readonly evidence: ReadonlyMap<string, ServiceEvidence>;
  readonly services: readonly ServiceReading[];
  readonly warnings: readonly string[];
}

export interface ReadCouplingEvidenceOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** One database for every service (they share it), instead of the manifest's. */
  readonly database?: string;
  readonly since: Date;
  /** Newest records read per list and database. */
  readonly limit: number;
  /** Called with each URL about to be used, so that its password never reaches the output. */
  readonly onUrl: (url: string) => void;
}

type Located =
  | { readonly service: string; readonly url: string }
  | { readonly service: string; readonly problem: string };

/**
 * Reads the evidence. Never throws for a database that cannot be read: see `ServiceReading.problem`.
 *
 * @example const { evidence, warnings } = await readCouplingEvidence(manifest, { env, since, limit: 100_000, onUrl });
 */
export async function readCouplingEvidence(
  manifest: Manifest,
  options: ReadCouplingEvidenceOptions,
): Promise<CouplingEvidenceReading> {
  const located = manifest.services.map((service): Located => {
    try {
      const url = (
        options.database ?? expandDatabaseUrl(service.database, options.env, { service: service.name })
      ).trim();
      options.onUrl(url);
      return { service: service.name, url };
    } catch (error) {
      return { service: service.name, problem: (error as Error).message };
    }
  });
  const groups = new Map<string, string[]>();
  for (const entry of located) {
    if ('url' in entry) groups.set(entry.url, [...(groups.get(entry.url) ?? []), entry.service]);
  }
  const evidence = new Map<string, ServiceEvidence>();
  const problems = new Map<string, string>();
  const unmatchedConsumers = new Set<string>();
  const unattributed = { sagas: 0 };
  for (const entry of located) if ('problem' in entry) problems.set(entry.service, entry.problem);
  // In parallel: an unreachable server costs its connection timeout once, not once per service.
  const reads = await Promise.all(
    [...groups].map(async ([url, services]) => ({
      services,
      read: await readDatabase(url, options).catch((error: Error) => error),
    })),
  );
  for (const { services, read } of reads) {
    if (read instanceof Error) {
      for (const service of services) problems.set(service, read.message);
      continue;
    }
    const held = split(read, services, unmatchedConsumers, unattributed);
    for (const [service, part] of held) evidence.set(service, part);
  }
  const services = located.map(({ service }) => reading(service, located, evidence, problems));
  const warnings = warningsOf(manifest, evidence, problems, unmatchedConsumers);
  warnings.push(...sagaWarnings(evidence, unattributed.sagas));
  return { evidence, services, warnings };
}

async function readDatabase(url: string, options: ReadCouplingEvidenceOptions): Promise<ServiceEvidence> {
  const database = parseDatabaseUrl(url);
  // Opening a SQLite file that is not there would create an empty one.
  if (database.kind === 'sqlite' && !existsSync(database.path)) {
    throw new Error(`the SQLite file '${database.path}' does not exist`);
  }
  return withStorage(url, async ({ evidence }) => ({
    produced: await evidence.produced(options.since, options.limit),
    receipts: await evidence.receipts(options.since, options.limit),
    failures: await evidence.failures(options.since, options.limit),
    sagas: await evidence.sagas(options.since, options.limit),
  }));
}

/** One database's evidence by service: all of it for a database of one service. */
function split(
  held: ServiceEvidence,
  services: readonly string[],
  unmatchedConsumers: Set<string>,
  unattributed: { sagas: number },
): Map<string, ServiceEvidence> {
  if (services.length === 1) return new Map([[services[0]!, held]]);
  const orchestratorOf = (saga: SagaEvidence) => orchestratorIn(services, saga);
  unattributed.sagas += (held.sagas ?? []).filter(
    (saga) => saga.services.length > 0 && orchestratorOf(saga) === undefined,
  ).length;
  const consumerOf = <T extends ReceiptEvidence | FailureEvidence>(record: T): string | undefined => {
    const name = serviceNameOf(record.consumer);
    const service = services
      .filter((candidate) => name === candidate || name.startsWith(`${candidate}_`))
      .sort((a, b) => b.length - a.length)[0];
    if (service === undefined) unmatchedConsumers.add(record.consumer);
    return service;
  };
  return new Map(
    services.map((service) => [
      service,
      {
        produced: held.produced.filter((message) => serviceNameOf(message.source) === service),
        receipts: held.receipts.filter((receipt) => consumerOf(receipt) === service),
        failures: held.failures.filter((failure) => consumerOf(failure) === service),
        sagas: (held.sagas ?? []).filter((saga) => orchestratorOf(saga) === service),
      },
    ]),
  );
}

/** The service of a shared database that the saga's steps call first; undefined when none is. */
function orchestratorIn(services: readonly string[], saga: SagaEvidence): string | undefined {
  const called = saga.services.map(serviceNameOf);
  return called.find((service) => services.includes(service));
}

function reading(
  service: string,
  located: readonly Located[],
  evidence: ReadonlyMap<string, ServiceEvidence>,
  problems: ReadonlyMap<string, string>,
): ServiceReading {
  const entry = located.find((candidate) => candidate.service === service);
  const database = entry !== undefined && 'url' in entry ? maskSecrets(entry.url) : undefined;
  const held = evidence.get(service);
  const problem = problems.get(service);
  return {
    service,
    database,
    ...(problem === undefined ? {} : { problem }),
    produced: held?.produced.length ?? 0,
    receipts: held?.receipts.length ?? 0,
    failures: held?.failures.length ?? 0,
    sagas: held?.sagas?.length ?? 0,
  };
}

function warningsOf(
  manifest: Manifest,
  evidence: ReadonlyMap<string, ServiceEvidence>,
  problems: ReadonlyMap<string, string>,
  unmatchedConsumers: ReadonlySet<string>,
): string[] {
  const warnings = [...problems].map(
    ([service, problem]) =>
      `No evidence from service '${service}': ${problem.replace(/\.$/, '')}. The pairs with '${service}' count only what the other services recorded.`,
  );
  const known = new Set(manifest.services.map((service) => service.name));
  const sources = new Set<string>();
  for (const held of evidence.values()) {
    for (const message of held.produced) sources.add(message.source);
    for (const receipt of held.receipts) sources.add(receipt.source);
  }
  const strangers = [...sources].filter((source) => !known.has(serviceNameOf(source))).sort();
  if (strangers.length > 0) {
    warnings.push(
      `Message source(s) ${quoted(strangers)} name no service of the manifest (read with - as _), so their messages are not counted: give each outbox the source of its service's name.`,
    );
  }
  if (unmatchedConsumers.size > 0) {
    warnings.push(
      `Consumer(s) ${quoted([...unmatchedConsumers].sort())} in a database several services share name none of them, so their receipts and failures are not counted: name consumers after their service (billing-payment, billing-payment-invoices).`,
    );
  }
  return warnings;
}

/** What keeps sagas from counting: steps that name no service, a shared database's orchestrator. */
function sagaWarnings(evidence: ReadonlyMap<string, ServiceEvidence>, unattributed: number): string[] {
  const warnings: string[] = [];
  const unnamed = [...evidence.values()]
    .flatMap((held) => held.sagas ?? [])
    .filter((saga) => saga.services.length === 0);
  if (unnamed.length > 0) {
    warnings.push(
      `${unnamed.length} saga(s) (${quoted([...new Set(unnamed.map((saga) => saga.name))].sort())}) name no service for any step, so they tie no pair: give each step the service it calls (defineSaga(…).step('charge', { service: 'billing_payment', … })).`,
    );
  }
  if (unattributed > 0) {
    warnings.push(
      `${unattributed} saga(s) in a database several services share call none of them, so the service that orchestrated them cannot be told and they are not counted: give each orchestrator its own database, or name --database only for services that share one.`,
    );
  }
  return warnings;
}

const quoted = (names: readonly string[]) => names.map((name) => `'${name}'`).join(', ');
