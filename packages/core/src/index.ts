/**
 * `@converge/core`: the public API. Storage adapters live under `@converge/core/sqlite` and
 * `@converge/core/postgres`; contract suites for adapter authors under `@converge/core/testing`.
 */
export { type DatabaseUrl, maskSecrets, parseDatabaseUrl } from './core/database-url.js';
export {
  type CappedPayload,
  capPayload,
  DEFAULT_DEAD_LETTER_PAYLOAD_BYTES,
  failureFingerprint,
} from './core/dead-letter-record.js';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  type Envelope,
  type EnvelopeProblem,
  MAX_NESTING_DEPTH,
  type MessageDraft,
  parseEnvelope,
} from './core/envelope.js';
export {
  ConvergeError,
  type ConvergeErrorOptions,
  describeError,
  type ErrorDetails,
  isConvergeError,
  isRetryableError,
  isTerminalError,
  isTransientDatabaseError,
  RetryableError,
  TerminalError,
} from './core/errors.js';
export { newMessageId } from './core/ids.js';
export { payloadHash } from './core/payload-hash.js';
export { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from './core/retry-policy.js';
export {
  archiveDeadLetter,
  type DeadLetterActionOptions,
  type EditedDeadLetter,
  editDeadLetter,
  type OperatorAction,
  requestDeadLetterReplay,
} from './dead-letters/dead-letter-actions.js';
export { HandlerTimeoutError } from './inbox/handler-attempt.js';
export {
  type Consumer,
  createInbox,
  type Inbox,
  type InboxOptions,
  type SubscriptionOptions,
} from './inbox/inbox.js';
export type { MessageHandler } from './inbox/message-processor.js';
export { createOutbox, type Outbox, type OutboxOptions } from './outbox/outbox.js';
export {
  adviseCoupling,
  type PairAdvice,
  Recommendation,
} from './ownership/coupling/coupling-advice.js';
export {
  type FlowEvidence,
  type PairEvidence,
  pairEvidence,
  type SagaPairEvidence,
  type ServiceEvidence,
  serviceNameOf,
} from './ownership/coupling/coupling-evidence.js';
export {
  type CouplingReportContext,
  couplingMarkdown,
  couplingText,
} from './ownership/coupling/coupling-report.js';
export { expandDatabaseUrl } from './ownership/database-reference.js';
export {
  type ApplyEnforcementOptions,
  applyEnforcement,
  type EnforcementApplyReport,
} from './ownership/enforcement/apply-enforcement.js';
export type { EnforcementCatalog } from './ownership/enforcement/enforcement-catalog.js';
export {
  DifferenceKind,
  type EnforcementDifference,
} from './ownership/enforcement/enforcement-difference.js';
export {
  OWNER_ROLE_SUFFIX,
  RUNTIME_ROLE_SUFFIX,
  type ServiceRoles,
  serviceRoles,
} from './ownership/enforcement/enforcement-roles.js';
export {
  CONVERGE_OWNER_ROLE,
  CONVERGE_SCHEMA,
  type EnforcementScope,
  type EnforcementTarget,
  enforcementTarget,
} from './ownership/enforcement/enforcement-target.js';
export {
  type EnforcementPlan,
  FRESH_DATABASE_CATALOG,
  type PlanEnforcementOptions,
  type PlannedStatement,
  planEnforcement,
} from './ownership/enforcement/plan-enforcement.js';
export {
  type EnforcementClient,
  readEnforcementCatalog,
} from './ownership/enforcement/postgres-enforcement-catalog.js';
export { verifyEnforcement } from './ownership/enforcement/verify-enforcement.js';
export {
  IDENTIFIER_PATTERN,
  type IdentifierProblem,
  MAX_IDENTIFIER_BYTES,
  quoteIdentifier,
  truncateIdentifier,
  validateIdentifier,
} from './ownership/identifiers.js';
export {
  type CopyDeclaration,
  JointTechnique,
  MANIFEST_VERSION,
  type Manifest,
  type ServiceDeclaration,
  type SharedTable,
  type TableRef,
} from './ownership/manifest.js';
export { type CheckManifestOptions, checkManifest } from './ownership/manifest-check.js';
export { parseManifest } from './ownership/manifest-parse.js';
export {
  type ManifestProblem,
  ManifestProblemCode,
  type ParseManifestOptions,
  type ParseManifestResult,
  type SourcePosition,
} from './ownership/manifest-problem.js';
export { type GraphFormat, ownershipGraph } from './ownership/ownership-graph.js';
export { POSTGRES_RESERVED_KEYWORDS } from './ownership/reserved-keywords.js';
export {
  COMMAND_OK_STATUS,
  COMMAND_REJECTED_STATUS,
  type CommandEffect,
  type CommandHandlerOptions,
  commandHandler,
} from './participant/command-handler.js';
export {
  type HandlerResponse,
  type IdempotentHandlerOptions,
  type IdempotentHttpHandler,
  type IdempotentRequest,
  idempotentHandler,
} from './participant/idempotent-handler.js';
export type { ParticipantOptions } from './participant/participant-options.js';
export {
  checkIdempotencyKey,
  DEFAULT_MAX_BODY_BYTES,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  problemResponse,
} from './participant/participant-responses.js';
export {
  markPending,
  type SagaCallKey,
  sagaCallOf,
  settlePending,
} from './participant/pending-markers.js';
export {
  type PruneIdempotencyKeysOptions,
  pruneIdempotencyKeys,
} from './participant/prune-idempotency-keys.js';
export { requestHash } from './participant/request-hash.js';
export {
  type IdempotentResult,
  type RunIdempotentOptions,
  runIdempotent,
} from './participant/run-idempotent.js';
export type {
  CommandReplyOutcome,
  CommandReplyStore,
  RecordedCommandReply,
} from './ports/command-reply-store.js';
export type {
  EvidenceStore,
  FailureEvidence,
  ProducedEvidence,
  ReceiptEvidence,
  SagaEvidence,
} from './ports/evidence-store.js';
export { type FaultInjector, FaultPoint, noFaults } from './ports/fault-points.js';
export type { IdempotencyBegin, IdempotencyStore, StoredResponse } from './ports/idempotency-store.js';
export {
  type DeadLetter,
  type DeadLetterAuditEntry,
  type DeadLetterBodyReplacement,
  DeadLetterReason,
  type DeadLetterStatus,
  type InboxStore,
  type KeyState,
  type ParkedMessage,
  type PoisonPolicy,
  type Receipt,
  type ReceiptOutcome,
  type StoredDeadLetter,
} from './ports/inbox-store.js';
export type { GroupLease, LogEntry, LogRecord, LogStore } from './ports/log-store.js';
export { type Logger, silentLogger } from './ports/logger.js';
export type {
  OutboxClaim,
  OutboxRow,
  OutboxStatus,
  OutboxStore,
  RelayHeartbeat,
  RelayList,
  RelayRecord,
} from './ports/outbox-store.js';
export type {
  MarkOutcome,
  PendingMark,
  PendingMarker,
  PendingMarkerStore,
  PendingTarget,
  SkipPendingOptions,
  SqlCondition,
} from './ports/pending-marker-store.js';
export {
  type ClaimedSaga,
  type HeldSaga,
  type OrchestratorHeartbeat,
  type OrchestratorPruning,
  type SagaListFilter,
  type SagaRecord,
  type SagaRecordOptions,
  type SagaStart,
  type SagaStartLease,
  SagaStatus,
  type SagaStore,
  type SagaTransition,
  type SagaVersions,
  type SagaWrite,
  type SagaWriteOutcome,
  type SagaWrites,
  TERMINAL_SAGA_STATUSES,
} from './ports/saga-store.js';
export {
  LOG_CHANNEL,
  type MigrationReport,
  type MigrationStep,
  OUTBOX_CHANNEL,
  SAGA_CHANNEL,
  type SqlExecutor,
  type Storage,
  type StorageCapabilities,
  type Transaction,
} from './ports/storage.js';
export type {
  Delivery,
  OutgoingMessage,
  Publisher,
  SubscribeOptions,
  Subscriber,
  Subscription,
  Transport,
  TransportCapabilities,
} from './ports/transport.js';
export { createRelay, type Relay, type RelayOptions } from './relay/outbox-relay.js';
export { RELAY_SILENT_AFTER_INTERVALS, RelayState, relayState } from './relay/relay-state.js';
export { applyOperatorAction } from './saga/apply-operator-action.js';
export {
  type CommandCallOptions,
  type CommandReply,
  type CommandRequest,
  type CommandRequester,
  commandCall,
  parseCommandReply,
} from './saga/command-call.js';
export {
  type CommandChannel,
  type CommandChannelOptions,
  createCommandChannel,
} from './saga/command-channel.js';
export {
  defineSaga,
  type InputValidator,
  type ParallelOutputs,
  type ParallelStepOptions,
  SAGA_NAME_PATTERN,
  type SagaBuilder,
  STEP_NAME_PATTERN,
  type StepOptions,
} from './saga/define-saga.js';
export { type FromContext, type HttpCallOptions, httpCall } from './saga/http-call.js';
export {
  type CompensationContext,
  compensationIdempotencyKey,
  DEFAULT_COMPENSATION_RETRY_POLICY,
  DEFAULT_STEP_RETRY_POLICY,
  DEFAULT_STEP_TIMEOUT_MS,
  type NonRetryablePredicate,
  type SagaCompensation,
  type SagaDefinition,
  type SagaStep,
  type StepAction,
  type StepCompensation,
  type StepContext,
  type StepOutputs,
  stepIdempotencyKey,
} from './saga/saga-definition.js';
export {
  type CompensationFailedEvent,
  type CompensationStartedEvent,
  type CompensationSucceededEvent,
  type CompensationTimedOutEvent,
  OperatorActionKind,
  type OperatorEvent,
  type ReportedError,
  type SagaEvent,
  type StepFailedEvent,
  type StepStartedEvent,
  type StepSucceededEvent,
  type StepTimedOutEvent,
} from './saga/saga-event.js';
export {
  createOrchestrator,
  type Orchestrator,
  type OrchestratorOptions,
  type StartedSaga,
  type StartSagaOptions,
} from './saga/saga-orchestrator.js';
export {
  type InFlightAttempt,
  initialSnapshot,
  type SagaSnapshot,
  type StepError,
  type StepSnapshot,
  StepStatus,
} from './saga/saga-snapshot.js';
export {
  SAGA_START_REQUESTED,
  type SagaStartRequest,
  type SagaStartRequestOptions,
  sagaStartHandler,
  sagaStartRequest,
} from './saga/saga-start-request.js';
export {
  type ApplyEventOptions,
  applyEvent,
  nextActions,
  type SagaAction,
  type SagaLease,
  type SagaPlan,
  type SagaTransitionResult,
} from './saga/saga-state-machine.js';
export { type StepFailure, stepFailure } from './saga/step-failure.js';
export {
  createSqlLogTransport,
  type SqlLogTransportOptions,
} from './transports/sql-log/sql-log-transport.js';
