/**
 * What the demo reads back from every database once the system has settled: the messages each
 * service produced (its outbox), the effects each consumer applied (its history), the audit log,
 * the dead letters with their audit trails, what still waits, and the broker's log. Read through
 * each database's own storage, as an operator's tool would.
 */
import type { Envelope, Storage, StoredDeadLetter } from '@converge/core';
import type { DatabaseKind } from '../services/database.js';

export interface ProducedMessage {
  readonly envelope: Envelope<Record<string, unknown>>;
}

export interface EffectRow {
  readonly message_id: string;
  readonly customer_id: string;
  readonly sequence: number;
  readonly previous_sequence: number;
  readonly applied_at: number;
}

export interface ConsumerObservation {
  readonly effects: readonly EffectRow[];
  readonly deadLetters: readonly (StoredDeadLetter & {
    readonly actors: readonly string[];
    readonly autoRedrives: number;
  })[];
  readonly parked: number;
  readonly blockedKeys: number;
}

export interface Observation {
  readonly produced: Readonly<Record<string, readonly ProducedMessage[]>>;
  readonly customers: ReadonlyMap<string, { readonly status: string; readonly plan: string }>;
  readonly contracts: ReadonlyMap<string, { readonly status: string; readonly plan: string }>;
  readonly billing: ReadonlyMap<string, { readonly plan: string; readonly active: number }>;
  readonly auditLog: readonly { readonly message_id: string; readonly recorded_at: number }[];
  readonly consumers: Readonly<Record<string, ConsumerObservation>>;
  readonly log: { readonly entries: number; readonly distinct: number };
}

export interface Databases {
  readonly 'customer-profile': Storage;
  readonly 'support-contract': Storage;
  readonly 'billing-payment': Storage;
  readonly audit: Storage;
  readonly broker: Storage;
}

const read = <Row>(storage: Storage, sql: string) => storage.transaction((tx) => tx.query<Row>(sql));

/** Converge's own tables, named as each backend's migrations name them. */
const tablesOf = (kind: DatabaseKind) =>
  kind === 'postgres'
    ? {
        outbox: 'converge.outbox',
        log: 'converge.log',
        parked: 'converge.inbox_parked',
        key: 'converge.inbox_key',
      }
    : {
        outbox: 'converge_outbox',
        log: 'converge_log',
        parked: 'converge_inbox_parked',
        key: 'converge_inbox_key',
      };

/** PostgreSQL returns BIGINT as a string. */
const numbers = <Row extends Record<string, unknown>>(rows: Row[], ...columns: (keyof Row)[]): Row[] =>
  rows.map((row) => ({
    ...row,
    ...Object.fromEntries(columns.map((column) => [column, Number(row[column])])),
  }));

export async function observe(db: Databases, kind: DatabaseKind): Promise<Observation> {
  const produced: Record<string, ProducedMessage[]> = {};
  for (const service of ['customer-profile', 'support-contract', 'billing-payment'] as const) {
    const { outbox } = tablesOf(kind);
    const rows = await read<{ body: string }>(db[service], `SELECT body FROM ${outbox} ORDER BY position`);
    produced[service] = rows.map((row) => ({
      envelope: JSON.parse(row.body) as Envelope<Record<string, unknown>>,
    }));
  }
  const byId = <Row extends { id?: string; customer_id?: string }>(rows: Row[], id: (row: Row) => string) =>
    new Map(rows.map((row) => [id(row), row]));
  const consumers: Record<string, ConsumerObservation> = {};
  for (const [service, history] of [
    ['support-contract', 'contract_history'],
    ['billing-payment', 'billing_history'],
    ['audit', null],
  ] as const) {
    consumers[service] = await observeConsumer(db[service], history, tablesOf(kind));
  }
  const [log] = await read<{ entries: number; unique_ids: number }>(
    db.broker,
    `SELECT COUNT(*) AS entries, COUNT(DISTINCT message_id) AS unique_ids FROM ${tablesOf(kind).log}`,
  );
  return {
    produced,
    customers: byId(
      await read<{ id: string; status: string; plan: string }>(
        db['customer-profile'],
        'SELECT id, status, plan FROM customer',
      ),
      (row) => row.id,
    ),
    contracts: byId(
      await read<{ customer_id: string; status: string; plan: string }>(
        db['support-contract'],
        'SELECT customer_id, status, plan FROM contract',
      ),
      (row) => row.customer_id,
    ),
    billing: byId(
      numbers(
        await read<{ customer_id: string; plan: string; active: number }>(
          db['billing-payment'],
          'SELECT customer_id, plan, active FROM billing',
        ),
        'active',
      ),
      (row) => row.customer_id,
    ),
    auditLog: numbers(
      await read<{ message_id: string; recorded_at: number }>(
        db.audit,
        'SELECT message_id, recorded_at FROM audit_log',
      ),
      'recorded_at',
    ),
    consumers,
    log: { entries: Number(log?.entries ?? 0), distinct: Number(log?.unique_ids ?? 0) },
  };
}

async function observeConsumer(
  storage: Storage,
  history: string | null,
  tables: ReturnType<typeof tablesOf>,
): Promise<ConsumerObservation> {
  const effects =
    history === null
      ? []
      : numbers(
          await read<EffectRow & Record<string, unknown>>(
            storage,
            `SELECT message_id, customer_id, sequence, previous_sequence, applied_at FROM ${history}`,
          ),
          'sequence',
          'previous_sequence',
          'applied_at',
        );
  const deadLetters = [];
  for (const letter of await storage.inbox.listDeadLetters()) {
    const trail = await storage.inbox.deadLetterAudit(letter.id);
    deadLetters.push({
      ...letter,
      actors: trail.map((entry) => entry.actor),
      autoRedrives: trail.filter(
        (entry) => entry.actor === 'converge:auto-redrive' && entry.action === 'replay-requested',
      ).length,
    });
  }
  const [waiting] = await read<{ parked: number; blocked: number }>(
    storage,
    `SELECT (SELECT COUNT(*) FROM ${tables.parked}) AS parked,
            (SELECT COUNT(*) FROM ${tables.key} WHERE blocked_by IS NOT NULL) AS blocked`,
  );
  return {
    effects,
    deadLetters,
    parked: Number(waiting?.parked ?? 0),
    blockedKeys: Number(waiting?.blocked ?? 0),
  };
}
