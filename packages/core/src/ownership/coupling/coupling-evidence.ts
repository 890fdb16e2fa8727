/**
 * The evidence of coupling between two services, gathered from what Converge recorded in every
 * service's database (`EvidenceStore`) and from the manifest: how many of one's messages the
 * other applies, how often a transaction of one goes on in the other (causation chains), how
 * often that fails, how long the two stay inconsistent, and the tables and copies they share.
 * Sagas add the same figures for the business transactions an orchestrator runs across services:
 * a saga spans the service that orchestrated it (the one whose database holds it) and every
 * service its steps call.
 *
 * Converge's message `source` and consumer names are matched to the manifest's services with
 * `-` read as `_` (`customer-profile` is the service `customer_profile`).
 */
import type {
  FailureEvidence,
  ProducedEvidence,
  ReceiptEvidence,
  SagaEvidence,
} from '../../ports/evidence-store.js';
import type { Manifest } from '../manifest.js';

/** What one service's database holds, by the manifest's service name. */
export interface ServiceEvidence {
  readonly produced: readonly ProducedEvidence[];
  readonly receipts: readonly ReceiptEvidence[];
  readonly failures: readonly FailureEvidence[];
  /** The sagas this service orchestrated (read from its database); none when absent. */
  readonly sagas?: readonly SagaEvidence[];
}

/** One direction of a pair: messages of `from` that `to` applied. */
export interface FlowEvidence {
  readonly from: string;
  readonly to: string;
  /** Distinct messages of `from` that `to` applied. */
  readonly applied: number;
  /**
   * `applied` ÷ the messages of `from` that some service applies other than a common owner it
   * writes through (Audit): the share of its business transactions that need `to`'s effect.
   */
  readonly share: number;
  /** Messages `to` produced in reaction to one of `from`'s (their causation id): a chain across both. */
  readonly chained: number;
  /** Dead letters and messages still retrying at `to` for messages of `from`. */
  readonly failures: number;
  /** From `from`'s commit to `to`'s receipt, over the applied messages found in both, in ms. */
  readonly lagMs: { readonly p50: number; readonly p95: number; readonly samples: number };
}

/** The sagas that span both services of a pair. */
export interface SagaPairEvidence {
  /** Sagas both take part in: as its orchestrator or as the service a step calls. */
  readonly together: number;
  /**
   * `together` ÷ the sagas `shareOf` takes part in, for the one of the two where it is larger: the
   * share of its business transactions that need the other.
   */
  readonly share: number;
  readonly shareOf: string;
  /** Of `together`, those that were undone (compensated, or some step's compensation ran). */
  readonly compensated: number;
  /** Of `together`, those that waited for a person (needs-attention). */
  readonly neededAttention: number;
  /** From start to end, over the ended ones of `together`, in ms: how long the two may disagree. */
  readonly windowMs: { readonly p50: number; readonly p95: number; readonly samples: number };
  /** The services that orchestrated them. */
  readonly orchestrators: readonly string[];
}

export interface PairEvidence {
  readonly services: readonly [string, string];
  readonly flows: readonly [FlowEvidence, FlowEvidence];
  /** Joint tables both take part in, with their technique. */
  readonly jointTables: readonly { readonly table: string; readonly technique: string }[];
  /** Common tables one of them owns and the other writes through messages. */
  readonly commonTables: readonly { readonly table: string; readonly owner: string }[];
  readonly copies: number;
  readonly reads: number;
  readonly sagas: SagaPairEvidence;
}

/** Converge's name for a service (a message source, a consumer) as the manifest spells it. */
export const serviceNameOf = (name: string): string => name.replaceAll('-', '_');

/** The evidence for every pair of the manifest's services. */
export function pairEvidence(
  manifest: Manifest,
  evidence: ReadonlyMap<string, ServiceEvidence>,
): PairEvidence[] {
  const names = manifest.services.map((service) => service.name).sort();
  const sagas = sagasWithMembers(evidence);
  const pairs: PairEvidence[] = [];
  for (let i = 0; i < names.length; i += 1) {
    for (let j = i + 1; j < names.length; j += 1) {
      const a = names[i]!;
      const b = names[j]!;
      pairs.push({
        services: [a, b],
        flows: [
          flow(a, b, evidence, commonOwnersOf(manifest, a)),
          flow(b, a, evidence, commonOwnersOf(manifest, b)),
        ],
        ...declared(manifest, a, b),
        sagas: sagaPair(a, b, sagas),
      });
    }
  }
  return pairs;
}

/** The owners of the common tables `service` writes through messages. */
function commonOwnersOf(manifest: Manifest, service: string): ReadonlySet<string> {
  return new Set(
    manifest.shared.flatMap((shared) =>
      shared.ownership === 'common' && shared.writers.includes(service) ? [shared.owner] : [],
    ),
  );
}

/** Ids of `from`'s messages applied by a service other than `from`'s common owners. */
function transactional(
  from: string,
  evidence: ReadonlyMap<string, ServiceEvidence>,
  commonOwners: ReadonlySet<string>,
) {
  const ids = new Set<string>();
  for (const [service, held] of evidence) {
    if (service === from || commonOwners.has(service)) continue;
    for (const receipt of held.receipts) {
      if (receipt.outcome === 'applied' && serviceNameOf(receipt.source) === from) ids.add(receipt.messageId);
    }
  }
  return ids;
}

function flow(
  from: string,
  to: string,
  evidence: ReadonlyMap<string, ServiceEvidence>,
  commonOwners: ReadonlySet<string>,
): FlowEvidence {
  const produced = (evidence.get(from)?.produced ?? []).filter((m) => serviceNameOf(m.source) === from);
  const createdAt = new Map(produced.map((m) => [m.messageId, m.createdAt.getTime()]));
  const target = evidence.get(to);
  const applied = new Map<string, number>();
  for (const receipt of target?.receipts ?? []) {
    if (receipt.outcome !== 'applied' || serviceNameOf(receipt.source) !== from) continue;
    const at = receipt.receivedAt.getTime();
    applied.set(receipt.messageId, Math.min(at, applied.get(receipt.messageId) ?? at));
  }
  const lags = [...applied]
    .filter(([id]) => createdAt.has(id))
    .map(([id, at]) => Math.max(0, at - createdAt.get(id)!))
    .sort((x, y) => x - y);
  const chained = (target?.produced ?? []).filter(
    (m) => m.causationId !== null && createdAt.has(m.causationId),
  ).length;
  const failures = (target?.failures ?? []).filter(
    (f) => f.source !== null && serviceNameOf(f.source) === from,
  ).length;
  return {
    from,
    to,
    applied: applied.size,
    share: share(applied, transactional(from, evidence, commonOwners)),
    chained,
    failures,
    lagMs: { p50: percentile(lags, 0.5), p95: percentile(lags, 0.95), samples: lags.length },
  };
}

function declared(manifest: Manifest, a: string, b: string) {
  const both = (list: readonly string[]) => list.includes(a) && list.includes(b);
  const jointTables: { table: string; technique: string }[] = [];
  const commonTables: { table: string; owner: string }[] = [];
  for (const shared of manifest.shared) {
    if (shared.ownership === 'common') {
      const writer = shared.owner === a ? b : shared.owner === b ? a : null;
      if (writer !== null && shared.writers.includes(writer)) {
        commonTables.push({ table: shared.table, owner: shared.owner });
      }
      continue;
    }
    const members =
      shared.technique === 'table-split'
        ? Object.values(shared.parts)
        : shared.technique === 'data-domain'
          ? shared.services
          : shared.technique === 'delegate'
            ? [shared.owner, ...shared.delegates]
            : [shared.into, ...shared.from];
    if (both(members)) jointTables.push({ table: shared.table, technique: shared.technique });
  }
  const between = (x: string, y: string) => (x === a && y === b) || (x === b && y === a);
  const copies = manifest.copies.filter((copy) => between(copy.of.service, copy.in.service)).length;
  const reads = manifest.services
    .filter((service) => service.name === a || service.name === b)
    .flatMap((service) => service.reads.map((read) => [service.name, read.service] as const))
    .filter(([reader, owner]) => between(reader, owner)).length;
  return { jointTables, commonTables, copies, reads };
}

interface SagaWithMembers {
  readonly saga: SagaEvidence;
  readonly orchestrator: string;
  /** The orchestrator and the services its steps call. */
  readonly members: ReadonlySet<string>;
}

function sagasWithMembers(evidence: ReadonlyMap<string, ServiceEvidence>): SagaWithMembers[] {
  return [...evidence].flatMap(([orchestrator, held]) =>
    (held.sagas ?? []).map((saga) => ({
      saga,
      orchestrator,
      members: new Set([orchestrator, ...saga.services.map(serviceNameOf)]),
    })),
  );
}

function sagaPair(a: string, b: string, sagas: readonly SagaWithMembers[]): SagaPairEvidence {
  const together = sagas.filter(({ members }) => members.has(a) && members.has(b));
  const shareOf = (service: string) => {
    const involving = sagas.filter(({ members }) => members.has(service)).length;
    return involving === 0 ? 0 : together.length / involving;
  };
  const [share, of] = shareOf(b) > shareOf(a) ? [shareOf(b), b] : [shareOf(a), a];
  const windows = together
    .flatMap(({ saga }) =>
      saga.endedAt === null ? [] : [Math.max(0, saga.endedAt.getTime() - saga.startedAt.getTime())],
    )
    .sort((x, y) => x - y);
  return {
    together: together.length,
    share,
    shareOf: of,
    compensated: together.filter(
      ({ saga }) => saga.status === 'compensated' || saga.compensatedSteps.length > 0,
    ).length,
    neededAttention: together.filter(({ saga }) => saga.neededAttention).length,
    windowMs: { p50: percentile(windows, 0.5), p95: percentile(windows, 0.95), samples: windows.length },
    orchestrators: [...new Set(together.map(({ orchestrator }) => orchestrator))].sort(),
  };
}

/** The part of the transactional messages `applied` holds (all of them, for a common owner). */
function share(applied: ReadonlyMap<string, number>, transactionalIds: ReadonlySet<string>): number {
  if (applied.size === 0) return 0;
  if (transactionalIds.size === 0) return 1;
  let hits = 0;
  for (const id of transactionalIds) if (applied.has(id)) hits += 1;
  return hits / transactionalIds.size;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
}
