import type { MigrationStep } from '../../ports/storage.js';

/**
 * Converge's own tables in PostgreSQL, all in schema `converge`, never in the application's
 * schemas. Versions only ever get appended; a released step never changes. Each step runs in its
 * own transaction together with its row in `converge.schema_migrations`.
 *
 * Message ids are `text` everywhere a message arrives from outside (inbox, dead letters, log): a
 * malformed message from a faulty producer must still be recorded, never fail the insert. The
 * outbox's ids are produced and validated here, so they are `uuid`. Bodies are `text`, so a body
 * reads back byte for byte as it was written (`jsonb` would reorder keys and drop whitespace).
 */
export const POSTGRES_MIGRATIONS: readonly MigrationStep[] = Object.freeze([
  Object.freeze({
    version: 1,
    name: 'outbox, inbox, dead letters, SQL log',
    sql: `
CREATE SCHEMA IF NOT EXISTS converge;
CREATE TABLE IF NOT EXISTS converge.schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE converge.outbox (
  position bigserial PRIMARY KEY,
  message_id uuid NOT NULL UNIQUE,
  source text NOT NULL,
  type text NOT NULL,
  key text NOT NULL,
  sequence bigint NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON converge.outbox (position) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON converge.outbox (published_at) WHERE published_at IS NOT NULL;
CREATE TABLE converge.outbox_sequence (
  source text NOT NULL,
  key text NOT NULL,
  last_sequence bigint NOT NULL,
  PRIMARY KEY (source, key)
);
CREATE TABLE converge.inbox_key (
  consumer text NOT NULL,
  source text NOT NULL,
  key text NOT NULL,
  last_sequence bigint NOT NULL DEFAULT 0,
  blocked_by text,
  PRIMARY KEY (consumer, source, key)
);
CREATE TABLE converge.inbox_receipt (
  consumer text NOT NULL,
  message_id text NOT NULL,
  source text NOT NULL,
  key text NOT NULL,
  sequence bigint NOT NULL,
  outcome text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
CREATE TABLE converge.inbox_parked (
  consumer text NOT NULL,
  message_id text NOT NULL,
  source text NOT NULL,
  key text NOT NULL,
  sequence bigint NOT NULL,
  type text NOT NULL,
  body text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error text,
  first_failed_at timestamptz,
  parked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
-- Not unique: only a faulty producer gives two messages one (source, key, sequence), and the
-- inbox must still be able to park both.
CREATE INDEX inbox_parked_key ON converge.inbox_parked (consumer, source, key, sequence);
CREATE INDEX inbox_parked_time ON converge.inbox_parked (consumer, parked_at);
CREATE TABLE converge.dead_letter (
  id bigserial PRIMARY KEY,
  consumer text NOT NULL,
  message_id text,
  source text,
  type text,
  key text,
  sequence bigint,
  reason text NOT NULL,
  error_class text NOT NULL,
  error_message text NOT NULL,
  attempts integer NOT NULL,
  policy text NOT NULL,
  body text NOT NULL,
  first_failed_at timestamptz NOT NULL,
  last_failed_at timestamptz NOT NULL,
  status text NOT NULL DEFAULT 'open'
);
CREATE INDEX dead_letter_consumer ON converge.dead_letter (consumer, id);
CREATE TABLE converge.log (
  position bigserial PRIMARY KEY,
  message_id text NOT NULL,
  source text NOT NULL,
  type text NOT NULL,
  key text NOT NULL,
  body text NOT NULL,
  appended_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE converge.log_group (
  group_name text PRIMARY KEY,
  position bigint NOT NULL DEFAULT 0,
  holder_id text,
  token bigint NOT NULL DEFAULT 0,
  lease_expires_at timestamptz NOT NULL DEFAULT now()
);
`,
  }),
  Object.freeze({
    version: 2,
    name: 'dead letters: fingerprint, destination, headers, capped payload, audit trail',
    sql: `
ALTER TABLE converge.dead_letter
  ADD COLUMN fingerprint text NOT NULL DEFAULT '',
  ADD COLUMN destination text,
  ADD COLUMN headers text NOT NULL DEFAULT '{}',
  ADD COLUMN body_sha256 text NOT NULL DEFAULT '',
  ADD COLUMN body_bytes integer NOT NULL DEFAULT 0,
  ADD COLUMN body_truncated boolean NOT NULL DEFAULT false;
CREATE INDEX dead_letter_fingerprint ON converge.dead_letter (consumer, fingerprint);
CREATE TABLE converge.dead_letter_audit (
  id bigserial PRIMARY KEY,
  dead_letter_id bigint NOT NULL REFERENCES converge.dead_letter (id),
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  detail text NOT NULL
);
CREATE INDEX dead_letter_audit_letter ON converge.dead_letter_audit (dead_letter_id, id);
`,
  }),
  Object.freeze({
    version: 3,
    name: 'receipts: payload hash (DUPLICATE_ID_CONFLICT)',
    // NULL: the receipt was written before version 3 (or by a replay): its payload is unknown.
    // Adding a nullable column without a default rewrites nothing, so this is instant on a big table.
    sql: `
ALTER TABLE converge.inbox_receipt ADD COLUMN payload_hash text;
`,
  }),
  Object.freeze({
    version: 4,
    name: 'relay heartbeats',
    // One row per relay, rewritten at most once per heartbeat interval (ADR 0017).
    sql: `
CREATE TABLE converge.relay (
  relay_id text PRIMARY KEY,
  host text,
  pid integer,
  heartbeat_interval_ms integer NOT NULL,
  started_at timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  published bigint NOT NULL DEFAULT 0,
  last_published_at timestamptz,
  consecutive_failures integer NOT NULL DEFAULT 0,
  last_error text,
  last_error_at timestamptz,
  stopped_at timestamptz
);
`,
  }),
  Object.freeze({
    version: 5,
    name: 'sagas and participant idempotency keys',
    // A saga is one row (its engine snapshot + the columns orchestrators claim by) and an
    // append-only transition log; both are written in one transaction per transition, fenced by
    // fencing_token (ADR 0020). Snapshots are jsonb: the engine reads them back, not people.
    // idempotency_key is the participant side: written in the transaction of the call's effect.
    sql: `
CREATE TABLE converge.saga (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  version integer NOT NULL,
  status text NOT NULL,
  idempotency_key text,
  input jsonb NOT NULL,
  snapshot jsonb NOT NULL,
  wake_at timestamptz,
  reason text,
  fencing_token bigint NOT NULL DEFAULT 0,
  lease_owner text,
  lease_expires_at timestamptz,
  transitions integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX saga_idempotency ON converge.saga (name, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX saga_runnable ON converge.saga (wake_at NULLS FIRST, created_at) WHERE status IN ('running', 'compensating');
CREATE INDEX saga_by_status ON converge.saga (status, created_at);
CREATE TABLE converge.saga_transition (
  saga_id uuid NOT NULL REFERENCES converge.saga (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  kind text NOT NULL,
  step text,
  attempt integer,
  status text NOT NULL,
  detail jsonb,
  fencing_token bigint NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (saga_id, seq)
);
CREATE TABLE converge.idempotency_key (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  response_status integer,
  response_headers jsonb,
  response_body text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_key_created ON converge.idempotency_key (created_at);
`,
  }),
  Object.freeze({
    version: 6,
    name: 'saga orchestrators and the definitions they run',
    // One row per orchestrator instance, rewritten once per heartbeat interval; `definitions` is
    // {name: [versions]}. `saga list --stranded` finds sagas no live orchestrator can run (ADR 0020).
    sql: `
CREATE TABLE converge.saga_orchestrator (
  orchestrator_id text PRIMARY KEY,
  host text,
  pid integer,
  definitions jsonb NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  stopped_at timestamptz
);
`,
  }),
  Object.freeze({
    version: 7,
    name: 'pending markers',
    // A participant's note that a row was changed by a saga not yet ended, written and removed in
    // the step's own transaction; readers skip marked rows with NOT EXISTS on the primary key.
    // One saga holds a row at a time. `saga_id` is text: the saga lives in another database.
    sql: `
CREATE TABLE converge.pending_marker (
  resource text NOT NULL,
  key text NOT NULL,
  saga_id text NOT NULL,
  step text NOT NULL,
  since timestamptz NOT NULL,
  PRIMARY KEY (resource, key)
);
CREATE INDEX pending_marker_saga ON converge.pending_marker (saga_id);
`,
  }),
  Object.freeze({
    version: 8,
    name: 'replies to saga commands; sagas by creation time',
    // An orchestrator's record of the replies to the commands its sagas sent, written in the
    // reply's inbox transaction: one row per command (request_id, the command's message id).
    // After a takeover the step's retry looks up an earlier final answer by idempotency key,
    // newest first; pruning goes by received_at. saga_created serves the coupling report, which
    // reads sagas by created_at alone (newest first), a filter no saga index led with.
    sql: `
CREATE TABLE converge.command_reply (
  request_id text PRIMARY KEY,
  idempotency_key text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('ok', 'rejected', 'failed')),
  reply jsonb NOT NULL,
  received_at timestamptz NOT NULL
);
CREATE INDEX command_reply_key ON converge.command_reply (idempotency_key, received_at);
CREATE INDEX command_reply_received ON converge.command_reply (received_at);
CREATE INDEX saga_created ON converge.saga (created_at, id);
`,
  }),
]);

/** The newest schema version this build knows. */
export const POSTGRES_SCHEMA_VERSION: number = POSTGRES_MIGRATIONS.at(-1)?.version ?? 0;
