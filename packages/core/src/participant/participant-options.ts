import type { FaultInjector } from '../ports/fault-points.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import type { Storage } from '../ports/storage.js';
import { DEFAULT_MAX_BODY_BYTES } from './participant-responses.js';

/** How an idempotent endpoint behaves; the same for the node:http handler and the middleware. */
export interface ParticipantOptions {
  /** The participant's own database: the handler's effect runs in its transaction. */
  readonly storage: Storage;
  /** Separates this endpoint's keys from others' in the same database. Default `'http'`. */
  readonly scope?: string;
  /** Refuse requests without an `Idempotency-Key` header with 400. Default false: they run unrecorded. */
  readonly requireKey?: boolean;
  /** The largest body read; a larger one gets 413. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Where a failure is logged (the caller gets a 500 without details). Default: silent. */
  readonly logger?: Logger;
  /** Test seam (see `FaultPoint.AFTER_PARTICIPANT_COMMIT_BEFORE_RESPONSE`). */
  readonly faults?: FaultInjector;
}

/** `ParticipantOptions` with the defaults filled in. */
export interface ResolvedParticipantOptions {
  readonly storage: Storage;
  readonly scope: string;
  readonly requireKey: boolean;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  readonly faults: FaultInjector | undefined;
}

/** Fills in the defaults of `ParticipantOptions` (a frozen copy). */
export function resolveParticipantOptions(options: ParticipantOptions): ResolvedParticipantOptions {
  return Object.freeze({
    storage: options.storage,
    scope: options.scope ?? 'http',
    requireKey: options.requireKey === true,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    logger: options.logger ?? silentLogger,
    faults: options.faults,
  });
}
