/**
 * The saga orchestrator: runs sagas durably by gluing the pure state machine
 * (saga-state-machine.ts) to a `SagaStore` and to the participants.
 *
 * States, in prose. A started orchestrator loops: it *claims* up to `concurrency` minus the sagas
 * it is running (only the (name, version) pairs it has registered), hands each claimed saga to a
 * runner (saga-runner.ts) and *waits* — for `pollIntervalMs`, or less when this process starts
 * a saga it does not hold (on PostgreSQL, when any process does: a new saga notifies at commit)
 * or a runner finishes while every slot was taken. A saga `startSaga` records outside a caller's
 * transaction while a slot is free is *held* from its start write (claimed for this instance in
 * it, with the token a first claim gives, together with the starts of its first steps) and handed
 * to a runner that calls them at once, without a claim; its slot counts from before the write. A claim that fails (the database is away) is logged
 * and tried again after a growing backoff. `stop()` ends the loop: no more claims, every runner
 * starts no new call, lets its calls in flight end within their timeouts, records their results
 * and releases its lease; then the orchestrator reports itself stopped.
 *
 * Heartbeat: the orchestrator writes a row about itself (its id, host, pid and the definitions it
 * runs) at start, once per `heartbeatIntervalMs`, and on stop; `listStranded` uses them to find
 * sagas whose version no live orchestrator runs. The same write deletes the rows of instances
 * stopped or silent for longer than `heartbeatRetentionMs` (at most 100 per heartbeat), so
 * restarts and deployments do not pile rows up. A heartbeat that cannot be written is logged.
 *
 * Lease renewal: every `leaseMs / 3`, while it holds sagas, the orchestrator extends the leases of
 * all of them with one statement (`renewLeases`), so its writes per second do not grow with the
 * number of sagas it runs. The store extends each lease only while its fencing token is current and
 * answers the sagas it did not extend; exactly those runners give their saga up (fenced). A
 * renewal that cannot be written is logged and tried again at the next interval (if a lease lapses
 * meanwhile, fencing protects). Renewal continues through `stop()` until every runner has ended.
 *
 * Concurrency invariant (claims): a saga runs in at most one runner at a time across every
 * orchestrator instance, because a runner exists only for a claim, a claim needs an expired or
 * released lease, and every claim increments the fencing token that every write must carry (see
 * saga-runner.ts for what a runner does when it loses its lease). Within one orchestrator, a saga
 * it is already running is not claimed again: its lease is live while the runner holds it, and
 * the runner releases it only when it is done.
 */
import { hostname } from 'node:os';
import { ConvergeError, describeError } from '../core/errors.js';
import { newMessageId } from '../core/ids.js';
import { backoffDelayMs } from '../core/retry-policy.js';
import { Waker } from '../core/waker.js';
import { type FaultInjector, noFaults } from '../ports/fault-points.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import type { ClaimedSaga, SagaStart, SagaStore, SagaVersions } from '../ports/saga-store.js';
import { SAGA_CHANNEL, type Storage, type Transaction } from '../ports/storage.js';
import type { SagaDefinition } from './saga-definition.js';
import { SagaRunner, startsDue } from './saga-runner.js';
import { initialSnapshot, type SagaSnapshot } from './saga-snapshot.js';
import type { SagaAction } from './saga-state-machine.js';

/** What `SagaStore.start` answers. */
type SagaStarted = Awaited<ReturnType<SagaStore['start']>>;

/** The fencing token a start that holds its saga gives it (`SagaStart.lease`): a first claim's. */
const HELD_START_TOKEN = 1;

export interface OrchestratorOptions {
  /** The orchestrating service's own database: its sagas and their transition logs. */
  readonly storage: Storage;
  /** The definitions this instance runs, by (name, version); several versions of one name may be given. */
  // biome-ignore lint/suspicious/noExplicitAny: definitions of any input type are registered side by side.
  readonly definitions: readonly SagaDefinition<any>[];
  /** Default: `orchestrator-<UUIDv7>`, new per instance. */
  readonly orchestratorId?: string;
  /** How long a claim is exclusive without renewal; the orchestrator renews its sagas' leases every `leaseMs / 3` (one statement for all). Default 10000. */
  readonly leaseMs?: number;
  /** Longest wait between claims when nothing wakes the orchestrator. Default 500. */
  readonly pollIntervalMs?: number;
  /** Sagas run at once by this instance. Default 10. */
  readonly concurrency?: number;
  /** How often the orchestrator writes its heartbeat row. Default 10000. */
  readonly heartbeatIntervalMs?: number;
  /**
   * How long the heartbeat row of an orchestrator that stopped or went silent is kept; each
   * heartbeat deletes up to 100 older ones. At least three heartbeat intervals. Default 7 days.
   */
  readonly heartbeatRetentionMs?: number;
  /** The time. Default: the system clock. */
  readonly clock?: () => Date;
  /** Randomness for backoff jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  readonly logger?: Logger;
  /** Test hook: see `FaultPoint.SAGA_*`. */
  readonly faults?: FaultInjector;
}

/** Options of `startSaga`. */
export interface StartSagaOptions {
  /** A repeat with the same key (per saga name) returns the existing instance and starts nothing. */
  readonly idempotencyKey?: string;
  /**
   * Record the saga in the caller's open transaction (same database): it exists only if that
   * commits. On PostgreSQL the commit wakes the orchestrators; elsewhere they find it at their
   * next poll.
   */
  readonly tx?: Transaction;
}

/** What `startSaga` returns. */
export interface StartedSaga {
  readonly sagaId: string;
  /** False when the idempotency key was already used: `sagaId` is the existing instance. */
  readonly created: boolean;
}

/** A running (or stopped) orchestrator instance. */
export interface Orchestrator {
  readonly orchestratorId: string;
  /** Starts claiming and running sagas (idempotent). @throws ConvergeError `SCHEMA_*` when the schema is not current. */
  start(): Promise<void>;
  /** Stops claiming, lets the calls in flight end and records them, releases every lease. */
  stop(): Promise<void>;
  /**
   * Records a new saga instance, runnable at once: held and run by this instance when it is
   * running, registers the definition's version, has a slot free and no `tx` is given; otherwise
   * claimed by the next orchestrator that looks (this one is woken).
   *
   * @param definition a definition, or the name of a registered one (its highest version).
   * @throws ConvergeError `SAGA_INPUT_INVALID` (the definition's validator refused the input; nothing
   * is recorded), `SAGA_DEFINITION_UNKNOWN` (no registered definition has that name).
   */
  startSaga<Input>(
    definition: SagaDefinition<Input> | string,
    input: Input,
    options?: StartSagaOptions,
  ): Promise<StartedSaga>;
}

/**
 * Creates an orchestrator. Any number of instances, in any number of processes, may run against
 * one database; each saga runs in one of them at a time.
 *
 * @throws ConvergeError `ORCHESTRATOR_OPTIONS_INVALID` for a bad duration or concurrency, or two
 * definitions with one (name, version).
 * @example
 * const orchestrator = createOrchestrator({ storage, definitions: [unsubscribe] });
 * await orchestrator.start();
 * const { sagaId } = await orchestrator.startSaga(unsubscribe, { customerId: 'c-42' }, { idempotencyKey: 'req-7' });
 * // … on shutdown:
 * await orchestrator.stop();
 */
export function createOrchestrator(options: OrchestratorOptions): Orchestrator {
  const config = resolveOptions(options);
  const { storage } = options;
  const store = storage.sagas;
  const registry = registryOf(options.definitions);
  const runnable = versionsOf(options.definitions);
  const runners = new Map<string, { runner: SagaRunner; done: Promise<void> }>();
  /** Starts under way that hold their saga (see `startSaga`): each has a slot of `concurrency`. */
  const starting = new Set<Promise<unknown>>();
  const waker = new Waker();
  let running = false;
  let loop: Promise<void> | null = null;
  let lastBeatAt = Number.NEGATIVE_INFINITY;
  let unlisten: (() => Promise<void>) | null = null;
  let renewal: NodeJS.Timeout | null = null;
  let renewing: Promise<void> | null = null;

  async function beat(stopped: boolean): Promise<void> {
    lastBeatAt = Date.now();
    const at = config.clock();
    const heartbeat = {
      orchestratorId: config.orchestratorId,
      host: hostname(),
      pid: process.pid,
      definitions: runnable,
      at,
      stoppedAt: stopped ? at : null,
    };
    const silentBefore = new Date(at.getTime() - config.heartbeatRetentionMs);
    await store
      .heartbeatOrchestrator(heartbeat, { silentBefore, limit: PRUNED_PER_HEARTBEAT })
      .then((pruned) => {
        if (pruned.length === 0) return;
        config.logger.info(
          { orchestratorId: config.orchestratorId, pruned },
          `orchestrator ${config.orchestratorId} deleted the heartbeat rows of ${pruned.length} orchestrator(s) silent since before ${silentBefore.toISOString()}`,
        );
      })
      .catch((error: unknown) => {
        config.logger.warn(
          { orchestratorId: config.orchestratorId, error: describeError(error) },
          `orchestrator ${config.orchestratorId} could not write its heartbeat; trying again in ${config.heartbeatIntervalMs} ms`,
        );
      });
  }

  /** Extends the lease of every saga held, in one statement; gives up those found fenced. */
  async function renewLeases(): Promise<void> {
    // The runners asked about, not the map's entries when the answer comes (a saga may be claimed anew meanwhile).
    const holding = [...runners.values()].flatMap(({ runner }) => {
      const held = runner.held;
      return held === null ? [] : [{ runner, held }];
    });
    if (holding.length === 0) return;
    try {
      const held = holding.map((holder) => holder.held);
      const fenced = new Set(await store.renewLeases(held, config.leaseMs, config.clock()));
      for (const { runner, held } of holding) if (fenced.has(held.id)) runner.leaseLost();
    } catch (error) {
      config.logger.warn(
        { orchestratorId: config.orchestratorId, sagas: holding.length, error: describeError(error) },
        `orchestrator ${config.orchestratorId} could not renew the leases of its ${holding.length} saga(s); retrying in ${renewalIntervalMs(config)} ms`,
      );
    }
  }

  /** One renewal at a time: a slow one is not overtaken by the next. */
  function renewalTick(): void {
    if (renewing !== null) return;
    renewing = renewLeases().finally(() => {
      renewing = null;
    });
  }

  /** Runs a claimed saga; `started`: the actions its claim recorded the starts of (a held start). */
  function launch(claimed: ClaimedSaga, started: readonly SagaAction[] = []): void {
    const { record } = claimed;
    const definition = registry.get(registryKey(record.name, record.version));
    if (definition === undefined) {
      // Only with a store that ignores the claim's filter; leave the saga for an instance that has it.
      void store.release(record.id, claimed.fencingToken).catch(() => undefined);
      return;
    }
    const runner = new SagaRunner(claimed, definition, {
      store,
      holdMs: config.pollIntervalMs,
      clock: config.clock,
      random: config.random,
      logger: config.logger,
      faults: config.faults,
    });
    const done = runner.run(started).finally(() => {
      // Only a full orchestrator skipped claims: wake the loop to claim what waited for this slot.
      const wasFull = runners.size + starting.size >= config.concurrency;
      // A runner that lost its lease may end after a new claim of the same saga started another.
      if (runners.get(record.id)?.runner === runner) runners.delete(record.id);
      if (wasFull) waker.wake();
    });
    runners.set(record.id, { runner, done });
  }

  /** True when `startSaga` may hold a new saga (of a registered definition) itself: running, a slot free. */
  function canHold(): boolean {
    return running && runners.size + starting.size < config.concurrency;
  }

  /**
   * Records a saga claimed for this instance in its start (no claim, nobody notified), together
   * with the starts of its first steps, and runs it at once, as if its first claim had taken it
   * and its runner had recorded those starts: it starts only from its stored, JSON form.
   */
  async function startHeld(start: SagaStart, definition: SagaDefinition): Promise<SagaStarted> {
    const lease = { sagaId: start.id, fencingToken: HELD_START_TOKEN };
    const due = startsDue(start.snapshot as SagaSnapshot, definition, start.at, lease, config);
    const started = await store.start({
      ...start,
      lease: {
        owner: config.orchestratorId,
        expiresAt: new Date(start.at.getTime() + config.leaseMs),
        writes: due.writes,
      },
    });
    const { record, created } = started;
    if (created) {
      const input = JSON.parse(JSON.stringify(record.input ?? null)) as unknown;
      launch({ record: { ...record, input }, fencingToken: record.fencingToken }, due.starts);
    }
    return started;
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (running) {
      if (Date.now() - lastBeatAt >= config.heartbeatIntervalMs) await beat(false);
      const free = config.concurrency - runners.size - starting.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const claims = await store.claim(
            config.orchestratorId,
            config.leaseMs,
            free,
            config.clock(),
            runnable,
          );
          failures = 0;
          claimed = claims.length;
          for (const claim of claims)
            if (running) launch(claim);
            else await store.release(claim.record.id, claim.fencingToken).catch(() => undefined);
        } catch (error) {
          failures += 1;
          const delayMs = backoffDelayMs(CLAIM_BACKOFF, failures, config.random);
          config.logger.warn(
            { orchestratorId: config.orchestratorId, failures, error: describeError(error) },
            `orchestrator ${config.orchestratorId} could not claim sagas (failure ${failures}); retrying in ${delayMs} ms`,
          );
          await waker.wait(delayMs);
          continue;
        }
      }
      // A full claim may have left more runnable sagas: claim again at once while there is room.
      if (running && (claimed < free || free === 0)) await waker.wait(config.pollIntervalMs);
    }
  }

  return {
    get orchestratorId() {
      return config.orchestratorId;
    },
    async start(): Promise<void> {
      if (running) return;
      await storage.assertSchemaCurrent();
      running = true;
      unlisten = await listenForStarts(storage, waker, config.logger);
      await beat(false);
      renewal = setInterval(renewalTick, renewalIntervalMs(config));
      loop = run();
    },
    async stop(): Promise<void> {
      const wasRunning = running;
      running = false;
      waker.wake();
      await loop;
      loop = null;
      // A start that holds its saga launches its runner only while running: let it, so it is stopped below.
      await Promise.allSettled(starting);
      await unlisten?.();
      unlisten = null;
      for (const { runner } of runners.values()) runner.stop();
      await Promise.all([...runners.values()].map(({ done }) => done));
      if (renewal !== null) clearInterval(renewal);
      renewal = null;
      await renewing;
      if (wasRunning) await beat(true);
    },
    async startSaga(definitionOrName, input, startOptions = {}) {
      const definition =
        typeof definitionOrName === 'string' ? latest(registry, definitionOrName) : definitionOrName;
      const now = config.clock();
      const start = {
        id: newMessageId(),
        name: definition.name,
        version: definition.version,
        input,
        snapshot: initialSnapshot(definition as SagaDefinition, input, now),
        idempotencyKey: startOptions.idempotencyKey ?? null,
        at: now,
      };
      const registered = registry.get(registryKey(definition.name, definition.version));
      if (startOptions.tx !== undefined || registered === undefined || !canHold()) {
        const { record, created } = await store.start(start, startOptions.tx);
        if (created) waker.wake();
        return { sagaId: record.id, created };
      }
      const started = startHeld(start, registered);
      starting.add(started);
      try {
        const { record, created } = await started;
        return { sagaId: record.id, created };
      } finally {
        starting.delete(started);
      }
    },
  };
}

/**
 * Wakes the loop when any process starts a saga (PostgreSQL's LISTEN/NOTIFY, when the storage has
 * notifications); otherwise polling finds it. Resolves to the function that stops listening.
 */
async function listenForStarts(
  storage: Storage,
  waker: Waker,
  logger: Logger,
): Promise<(() => Promise<void>) | null> {
  if (!storage.capabilities.notifications || storage.listen === undefined) return null;
  return storage
    .listen(SAGA_CHANNEL, () => waker.wake())
    .catch((error: unknown) => {
      logger.warn({ error: describeError(error) }, 'orchestrator cannot listen for new sagas; polling');
      return null;
    });
}

/** How long a failing claim waits before the next: 100 ms, doubling, at most 5 s. */
const CLAIM_BACKOFF = Object.freeze({
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  multiplier: 2,
});

function resolveOptions(options: OrchestratorOptions) {
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const resolved = value ?? fallback;
    if (!Number.isFinite(resolved) || resolved < 1) {
      throw new ConvergeError(
        'ORCHESTRATOR_OPTIONS_INVALID',
        `Orchestrator option '${name}' is ${String(value)}; give a finite number of at least 1.`,
        { details: { option: name } },
      );
    }
    return resolved;
  };
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 10_000);
  return Object.freeze({
    orchestratorId: options.orchestratorId ?? `orchestrator-${newMessageId()}`,
    leaseMs: positive('leaseMs', options.leaseMs, 10_000),
    pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs, 500),
    concurrency: Math.floor(positive('concurrency', options.concurrency, 10)),
    heartbeatIntervalMs,
    heartbeatRetentionMs: heartbeatRetention(options.heartbeatRetentionMs, heartbeatIntervalMs),
    clock: options.clock ?? (() => new Date()),
    random: options.random ?? Math.random,
    logger: options.logger ?? silentLogger,
    faults: options.faults ?? noFaults,
  });
}

/** The heartbeat rows of long-gone orchestrators deleted by one heartbeat, at most. */
const PRUNED_PER_HEARTBEAT = 100;

/** The retention of silent orchestrators' rows: 7 days by default, never under three heartbeats. */
function heartbeatRetention(value: number | undefined, heartbeatIntervalMs: number): number {
  const resolved = value ?? 7 * 24 * 3_600_000;
  if (!Number.isFinite(resolved) || resolved < 3 * heartbeatIntervalMs) {
    throw new ConvergeError(
      'ORCHESTRATOR_OPTIONS_INVALID',
      `Orchestrator option 'heartbeatRetentionMs' is ${String(value)}; give at least three heartbeat intervals (${3 * heartbeatIntervalMs} ms), or the rows of live orchestrators would be deleted between their heartbeats.`,
      { details: { option: 'heartbeatRetentionMs' } },
    );
  }
  return resolved;
}

/** How often held leases are renewed: a third of the lease, so one renewal can fail and the next still comes in time. */
const renewalIntervalMs = (config: { readonly leaseMs: number }): number =>
  Math.max(1, Math.floor(config.leaseMs / 3));

const registryKey = (name: string, version: number) => `${version}:${name}`;

function registryOf(definitions: readonly SagaDefinition<unknown>[]): Map<string, SagaDefinition> {
  const registry = new Map<string, SagaDefinition>();
  for (const definition of definitions) {
    const key = registryKey(definition.name, definition.version);
    if (registry.has(key) && registry.get(key) !== definition) {
      throw new ConvergeError(
        'ORCHESTRATOR_OPTIONS_INVALID',
        `Saga '${definition.name}' version ${definition.version} is registered twice with different definitions; give each change a new version.`,
        { details: { saga: definition.name, version: definition.version } },
      );
    }
    registry.set(key, definition as SagaDefinition);
  }
  return registry;
}

function versionsOf(definitions: readonly SagaDefinition<unknown>[]): SagaVersions {
  const versions: Record<string, number[]> = {};
  for (const { name, version } of definitions) {
    const list = versions[name] ?? [];
    if (!list.includes(version)) versions[name] = [...list, version];
  }
  for (const list of Object.values(versions)) list.sort((a, b) => a - b);
  return Object.freeze(versions);
}

function latest(registry: Map<string, SagaDefinition>, name: string): SagaDefinition {
  let found: SagaDefinition | undefined;
  for (const definition of registry.values())
    if (definition.name === name && (found === undefined || definition.version > found.version))
      found = definition;
  if (found === undefined) {
    const names = [...new Set([...registry.values()].map((d) => `'${d.name}'`))].join(', ') || 'none';
    throw new ConvergeError(
      'SAGA_DEFINITION_UNKNOWN',
      `No saga named '${name}' is registered with this orchestrator (registered: ${names}); pass its definition to createOrchestrator({ definitions }).`,
      { details: { saga: name } },
    );
  }
  return found;
}
