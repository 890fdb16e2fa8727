import type { MigrationStep } from '../../ports/storage.js';

/**
 * Converge's own tables in a SQLite file, all named `converge_*` so they stay apart from the
 * application's tables. Versions only ever get appended; a released step never changes.
 * Times are stored as milliseconds since the Unix epoch.
 */
export const SQLITE_MIGRATIONS: readonly MigrationStep[] = Object.freeze([
  {
    version: 1,
    name: 'outbox, inbox, dead letters, SQL log',
    sql: `
CREATE TABLE converge_outbox (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  key TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  published_at INTEGER
);
CREATE INDEX converge_outbox_unpublished ON converge_outbox (position) WHERE published_at IS NULL;
CREATE INDEX converge_outbox_published ON converge_outbox (published_at) WHERE published_at IS NOT NULL;
CREATE TABLE converge_outbox_sequence (
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  last_sequence INTEGER NOT NULL,
  PRIMARY KEY (source, key)
) WITHOUT ROWID;
CREATE TABLE converge_lease (
  name TEXT PRIMARY KEY,
  holder_id TEXT NOT NULL,
  token INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE converge_inbox_key (
  consumer TEXT NOT NULL,
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  last_sequence INTEGER NOT NULL,
  blocked_by TEXT,
  PRIMARY KEY (consumer, source, key)
) WITHOUT ROWID;
CREATE TABLE converge_inbox_receipt (
  consumer TEXT NOT NULL,
  message_id TEXT NOT NULL,
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID;
CREATE TABLE converge_inbox_parked (
  consumer TEXT NOT NULL,
  message_id TEXT NOT NULL,
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER,
  last_error TEXT,
  first_failed_at INTEGER,
  parked_at INTEGER NOT NULL,
  PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID;
CREATE INDEX converge_inbox_parked_key ON converge_inbox_parked (consumer, source, key, sequence);
CREATE TABLE converge_dead_letter (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  consumer TEXT NOT NULL,
  message_id TEXT,
  source TEXT,
  type TEXT,
  key TEXT,
  sequence INTEGER,
  reason TEXT NOT NULL,
  error_class TEXT NOT NULL,
  error_message TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  policy TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  first_failed_at INTEGER NOT NULL,
  last_failed_at INTEGER NOT NULL
);
CREATE INDEX converge_dead_letter_consumer ON converge_dead_letter (consumer, id);
CREATE TABLE converge_log (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  key TEXT NOT NULL,
  body TEXT NOT NULL,
  appended_at INTEGER NOT NULL
);
CREATE TABLE converge_log_group (
  group_name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  holder_id TEXT,
  token INTEGER NOT NULL,
  lease_expires_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    version: 2,
    name: 'dead letters: fingerprint, destination, headers, capped payload, audit trail',
    sql: `
ALTER TABLE converge_dead_letter ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE converge_dead_letter ADD COLUMN destination TEXT;
ALTER TABLE converge_dead_letter ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';
ALTER TABLE converge_dead_letter ADD COLUMN body_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE converge_dead_letter ADD COLUMN body_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE converge_dead_letter ADD COLUMN body_truncated INTEGER NOT NULL DEFAULT 0;
CREATE INDEX converge_dead_letter_fingerprint ON converge_dead_letter (consumer, fingerprint);
CREATE TABLE converge_dead_letter_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dead_letter_id INTEGER NOT NULL REFERENCES converge_dead_letter (id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX converge_dead_letter_audit_letter ON converge_dead_letter_audit (dead_letter_id, id);
`,
  },
  {
    version: 3,
    name: 'receipts: payload hash (DUPLICATE_ID_CONFLICT)',
    // NULL: the receipt was written before version 3 (or by a replay): its payload is unknown.
    sql: `
ALTER TABLE converge_inbox_receipt ADD COLUMN payload_hash TEXT;
`,
  },
  {
    version: 4,
    name: 'relay heartbeats',
    // One row per relay, rewritten at most once per heartbeat interval (ADR 0017).
    sql: `
CREATE TABLE converge_relay (
  relay_id TEXT PRIMARY KEY,
  host TEXT,
  pid INTEGER,
  heartbeat_interval_ms INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  published INTEGER NOT NULL DEFAULT 0,
  last_published_at INTEGER,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  last_error_at INTEGER,
  stopped_at INTEGER
) WITHOUT ROWID;
`,
  },
  {
    version: 5,
    name: 'sagas and participant idempotency keys',
    // See the PostgreSQL migration 5 and ADR 0020. JSON columns are TEXT.
    sql: `
CREATE TABLE converge_saga (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL,
  idempotency_key TEXT,
  input TEXT NOT NULL,
  snapshot TEXT NOT NULL,
  wake_at INTEGER,
  reason TEXT,
  fencing_token INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  transitions INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX converge_saga_idempotency ON converge_saga (name, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX converge_saga_runnable ON converge_saga (wake_at, created_at) WHERE status IN ('running', 'compensating');
CREATE INDEX converge_saga_by_status ON converge_saga (status, created_at);
CREATE TABLE converge_saga_transition (
  saga_id TEXT NOT NULL REFERENCES converge_saga (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  step TEXT,
  attempt INTEGER,
  status TEXT NOT NULL,
  detail TEXT,
  fencing_token INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (saga_id, seq)
) WITHOUT ROWID;
CREATE TABLE converge_idempotency_key (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  response_status INTEGER,
  response_headers TEXT,
  response_body TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX converge_idempotency_key_created ON converge_idempotency_key (created_at);
`,
  },
  {
    version: 6,
    name: 'saga orchestrators and the definitions they run',
    // See the PostgreSQL migration 6. `definitions` is JSON text {name: [versions]}.
    sql: `
CREATE TABLE converge_saga_orchestrator (
  orchestrator_id TEXT PRIMARY KEY,
  host TEXT,
  pid INTEGER,
  definitions TEXT NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  stopped_at INTEGER
) WITHOUT ROWID;
`,
  },
  {
    version: 7,
    name: 'pending markers',
    // See the PostgreSQL migration 7. `since` is epoch milliseconds.
    sql: `
CREATE TABLE converge_pending_marker (
  resource TEXT NOT NULL,
  key TEXT NOT NULL,
  saga_id TEXT NOT NULL,
  step TEXT NOT NULL,
  since INTEGER NOT NULL,
  PRIMARY KEY (resource, key)
) WITHOUT ROWID;
CREATE INDEX converge_pending_marker_saga ON converge_pending_marker (saga_id);
`,
  },
  {
    version: 8,
    name: 'replies to saga commands; sagas by creation time',
    // See the PostgreSQL migration 8. `reply` is JSON text; `received_at` is epoch milliseconds.
    sql: `
CREATE TABLE converge_command_reply (
  request_id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'rejected', 'failed')),
  reply TEXT NOT NULL,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX converge_command_reply_key ON converge_command_reply (idempotency_key, received_at);
CREATE INDEX converge_command_reply_received ON converge_command_reply (received_at);
CREATE INDEX converge_saga_created ON converge_saga (created_at, id);
`,
  },
]);
