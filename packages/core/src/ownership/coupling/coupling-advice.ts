/**
 * Ranks service pairs by how transactionally coupled they are, and recommends what the book's
 * chapter 9 offers for each: keep them split, delegate, a data domain, or consolidate them into
 * one service — with the reasons, in numbers, weighed by the chapter's trade-offs:
 *
 * - *atomicity lost*: every transaction of one that needs the other's effect is BASE, not ACID
 *   (the share of its messages the other applies, and the chains that go on in the other);
 * - *consistency window*: how long the two disagree (commit → receipt, p95);
 * - *failure rate*: dead letters and retries on the way, each a repair someone or something does;
 * - *what they share*: joint tables and copies tie them together; common ownership (messages to an
 *   owner such as Audit, fire and forget) does not.
 *
 * Sagas weigh on the same axes, each taken as the larger of what the messages and what the sagas
 * say: a saga spanning both is a business transaction that needed both (atomicity, chains: the
 * larger share, of either's sagas, that span both); a compensated saga lost its atomicity and was repaired
 * by hand-written compensations, and one that needed a person was not repaired at all (failures:
 * 20% compensated, or 5% needing a person, counts as fully coupled); start → end is its
 * consistency window.
 *
 * The score is a weighted sum in [0, 1] (weights below); the thresholds are starting points, and
 * the report prints every figure so a reader can disagree with them.
 */
import type { FlowEvidence, PairEvidence, SagaPairEvidence } from './coupling-evidence.js';

export const Recommendation = {
  KEEP_SPLIT: 'keep-split',
  DELEGATE: 'delegate',
  DATA_DOMAIN: 'data-domain',
  CONSOLIDATION: 'consolidation',
} as const;
export type Recommendation = (typeof Recommendation)[keyof typeof Recommendation];

export interface PairAdvice {
  readonly services: readonly [string, string];
  /** 0 (independent) … 1 (one transaction in two places). */
  readonly score: number;
  readonly recommendation: Recommendation;
  readonly reasons: readonly string[];
  readonly evidence: PairEvidence;
}

const WEIGHTS = { atomicity: 0.35, chains: 0.15, failures: 0.15, window: 0.1, shared: 0.25 } as const;
/** 5% of deliveries failing counts as fully coupled on that axis; 5 s of p95 window likewise. */
const FAILURE_SATURATION = 0.05;
const WINDOW_SATURATION_MS = 5_000;
/** 20% of the sagas spanning both compensated, or 5% needing a person, counts as fully coupled. */
const COMPENSATION_SATURATION = 0.2;
const ATTENTION_SATURATION = 0.05;
const CONSOLIDATE_AT = 0.65;
const KEEP_SPLIT_BELOW = 0.35;

/** Advice for every pair, most coupled first. */
export function adviseCoupling(pairs: readonly PairEvidence[]): PairAdvice[] {
  return pairs
    .map(advise)
    .sort((x, y) => y.score - x.score || x.services.join().localeCompare(y.services.join()));
}

function advise(evidence: PairEvidence): PairAdvice {
  const [ab, ba] = evidence.flows;
  const sagas = evidence.sagas;
  const delivered = ab.applied + ba.applied;
  const failures = ab.failures + ba.failures;
  const failureRate = delivered === 0 ? 0 : failures / (delivered + failures);
  const windowMs = Math.max(ab.lagMs.p95, ba.lagMs.p95);
  const onlyCommon = evidence.jointTables.length === 0 && evidence.copies === 0 && evidence.reads === 0;
  const fireAndForget =
    onlyCommon &&
    sagas.together === 0 &&
    evidence.commonTables.length > 0 &&
    (ab.applied === 0 || ba.applied === 0);
  const parts = {
    atomicity: fireAndForget ? 0 : Math.min(1, Math.max(ab.share, ba.share, sagas.share)),
    chains: Math.max(delivered === 0 ? 0 : Math.min(1, (ab.chained + ba.chained) / delivered), sagas.share),
    failures: Math.max(Math.min(1, failureRate / FAILURE_SATURATION), sagaRepairs(sagas)),
    window: Math.min(
      1,
      Math.max(delivered === 0 ? 0 : windowMs, sagas.windowMs.samples === 0 ? 0 : sagas.windowMs.p95) /
        WINDOW_SATURATION_MS,
    ),
    shared: evidence.jointTables.length > 0 ? 1 : evidence.copies + evidence.reads > 0 ? 0.5 : 0,
  };
  const score = round(
    (Object.keys(WEIGHTS) as (keyof typeof WEIGHTS)[]).reduce(
      (sum, key) => sum + WEIGHTS[key] * parts[key],
      0,
    ),
  );
  const reasons = describe(evidence, ab, ba, failureRate, windowMs);
  const recommendation = choose(evidence, score, ab, ba, fireAndForget);
  reasons.push(because(recommendation, evidence, score));
  return { services: evidence.services, score, recommendation, reasons, evidence };
}

/** How much repair the sagas spanning both needed, 0 … 1. */
function sagaRepairs(sagas: SagaPairEvidence): number {
  if (sagas.together === 0) return 0;
  const compensated = sagas.compensated / sagas.together / COMPENSATION_SATURATION;
  const attention = sagas.neededAttention / sagas.together / ATTENTION_SATURATION;
  return Math.min(1, Math.max(compensated, attention));
}

function choose(
  evidence: PairEvidence,
  score: number,
  ab: FlowEvidence,
  ba: FlowEvidence,
  fireAndForget: boolean,
): Recommendation {
  if (evidence.jointTables.some((joint) => joint.technique === 'consolidation'))
    return Recommendation.CONSOLIDATION;
  if (fireAndForget || score < KEEP_SPLIT_BELOW) return Recommendation.KEEP_SPLIT;
  if (score >= CONSOLIDATE_AT) return Recommendation.CONSOLIDATION;
  // Sagas spanning both are business transactions that need both: not something to keep split as is.
  if (evidence.jointTables.length === 0)
    return evidence.sagas.together > 0 ? Recommendation.DELEGATE : Recommendation.KEEP_SPLIT;
  const [more, less] = ab.applied >= ba.applied ? [ab.applied, ba.applied] : [ba.applied, ab.applied];
  return more >= 3 * Math.max(1, less) ? Recommendation.DELEGATE : Recommendation.DATA_DOMAIN;
}

function describe(
  evidence: PairEvidence,
  ab: FlowEvidence,
  ba: FlowEvidence,
  failureRate: number,
  windowMs: number,
): string[] {
  const reasons: string[] = [];
  for (const flow of [ab, ba]) {
    if (flow.applied === 0) continue;
    reasons.push(
      `${percent(flow.share)} of ${flow.from}'s messages (${flow.applied}) are applied by ${flow.to}: each of those business transactions is eventually consistent (BASE), not atomic${flow.chained > 0 ? `; ${flow.chained} went on as new messages of ${flow.to}` : ''}.`,
    );
  }
  if (ab.applied + ba.applied === 0) reasons.push('No message between them was recorded in the period.');
  reasons.push(...sagaReasons(evidence.sagas));
  if (ab.lagMs.samples + ba.lagMs.samples > 0) {
    reasons.push(`They disagree for up to ${windowMs} ms (p95 from commit to receipt).`);
  }
  if (ab.failures + ba.failures > 0) {
    reasons.push(
      `${ab.failures + ba.failures} failures on the way (dead letters, retries): ${percent(failureRate)} of deliveries.`,
    );
  }
  for (const joint of evidence.jointTables) {
    reasons.push(`They jointly own '${joint.table}' (${joint.technique}).`);
  }
  for (const common of evidence.commonTables) {
    reasons.push(
      `'${common.table}' is common ownership: ${common.owner} owns it and the other sends it messages.`,
    );
  }
  if (evidence.copies > 0)
    reasons.push(
      `${evidence.copies} cop${evidence.copies === 1 ? 'y' : 'ies'} of one's data kept by the other.`,
    );
  if (evidence.reads > 0)
    reasons.push(
      `One reads the other's tables (${evidence.reads} declared read${evidence.reads === 1 ? '' : 's'}).`,
    );
  return reasons;
}

function sagaReasons(sagas: SagaPairEvidence): string[] {
  if (sagas.together === 0) return [];
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const reasons = [
    `${plural(sagas.together, 'saga spans', 'sagas span')} both (${percent(sagas.share)} of the sagas ${sagas.shareOf} takes part in; orchestrated by ${sagas.orchestrators.join(', ')}): each is one business transaction split across them; ${percent(sagas.compensated / sagas.together)} were compensated (atomicity lost and repaired by hand-written compensations); ${sagas.neededAttention} needed a person.`,
  ];
  if (sagas.windowMs.samples > 0) {
    reasons.push(
      `A saga spanning them runs for up to ${sagas.windowMs.p95} ms (p95 from start to end): the window in which they disagree.`,
    );
  }
  return reasons;
}

function because(recommendation: Recommendation, evidence: PairEvidence, score: number): string {
  const [a, b] = evidence.services;
  switch (recommendation) {
    case Recommendation.CONSOLIDATION:
      return `Consider consolidating ${a} and ${b} (score ${score}): one service regains ACID transactions for what now spans both, at the cost of deploying and scaling them apart.`;
    case Recommendation.DATA_DOMAIN:
      return `Consider a data domain (score ${score}): both write the shared data often; a shared schema keeps their writes atomic without merging the services, at the cost of a broader bounded context and coordinated schema changes.`;
    case Recommendation.DELEGATE:
      if (evidence.jointTables.length === 0 && evidence.sagas.together > 0)
        return `Consider the delegate technique (score ${score}): the sagas spanning ${a} and ${b} change data that belongs together; let one own it and the other ask it, so fewer steps need compensations, at the cost of a call on the other's path — or consolidate them if the compensations keep growing.`;
      return `Consider the delegate technique (score ${score}): one side does most of the writing; make it the owner and have the other ask it, keeping one writer per table at the cost of a call on the other's path.`;
    case Recommendation.KEEP_SPLIT:
      return `Keep them split (score ${score}): what they share does not need atomicity, and the services stay independently deployable and scalable.`;
  }
}

const percent = (value: number) => `${Math.round(value * 1000) / 10}%`;
const round = (value: number) => Math.round(value * 100) / 100;
