import { describe, expect, it } from 'vitest';
import type {
  FailureEvidence,
  ProducedEvidence,
  ReceiptEvidence,
  SagaEvidence,
} from '../../ports/evidence-store.js';
import type { Manifest, ServiceDeclaration, SharedTable } from '../manifest.js';
import { adviseCoupling } from './coupling-advice.js';
import { pairEvidence, type ServiceEvidence } from './coupling-evidence.js';
import { couplingMarkdown, couplingText } from './coupling-report.js';

const service = (name: string): ServiceDeclaration => ({
  name,
  database: `sqlite:${name}.db`,
  schema: name,
  owns: [],
  reads: [],
});
const t0 = Date.parse('2026-12-01T00:00:00Z');

/** `n` messages of `source` (kebab-case, as Converge names sources), optionally caused by `causes`. */
function produced(
  source: string,
  prefix: string,
  n: number,
  causes: readonly string[] = [],
): ProducedEvidence[] {
  return Array.from({ length: n }, (_, i) => ({
    messageId: `${prefix}${i}`,
    source,
    type: 'x',
    key: `k${i}`,
    createdAt: new Date(t0 + i * 1000),
    correlationId: null,
    causationId: causes[i] ?? null,
  }));
}
const receipts = (
  consumer: string,
  source: string,
  messages: readonly ProducedEvidence[],
  lagMs: number,
): ReceiptEvidence[] =>
  messages.map((m) => ({
    consumer,
    source,
    messageId: m.messageId,
    outcome: 'applied',
    receivedAt: new Date(m.createdAt.getTime() + lagMs),
  }));
const failures = (consumer: string, source: string, n: number): FailureEvidence[] =>
  Array.from({ length: n }, () => ({
    consumer,
    source,
    reason: 'HANDLER_RETRIES_EXHAUSTED',
    attempts: 4,
    at: new Date(t0),
  }));

/** `n` sagas whose steps call `services`: the first `compensated` undone, the first `attention` of those waited for a person. */
function sagas(
  prefix: string,
  n: number,
  services: readonly string[],
  options: { compensated?: number; attention?: number; durationMs?: number } = {},
): SagaEvidence[] {
  const { compensated = 0, attention = 0, durationMs = 200 } = options;
  return Array.from({ length: n }, (_, i) => ({
    sagaId: `${prefix}${i}`,
    name: 'unsubscribe',
    status: i < compensated ? 'compensated' : 'completed',
    services,
    compensatedSteps: i < compensated ? [services[0]!] : [],
    neededAttention: i < attention,
    startedAt: new Date(t0 + i * 1000),
    endedAt: new Date(t0 + i * 1000 + durationMs),
  }));
}

// The reference system: every customer event is applied by Support Contract and Billing
// Payment, which each send Audit a record; Billing's gateway failed for a while.
function sysops(extraShared: SharedTable[] = []) {
  const manifest: Manifest = {
    version: 1,
    services: ['customer_profile', 'support_contract', 'billing_payment', 'audit'].map(service),
    shared: [
      {
        table: 'audit_log',
        ownership: 'common',
        owner: 'audit',
        writers: ['customer_profile', 'support_contract', 'billing_payment'],
      },
      ...extraShared,
    ],
    copies: [],
  };
  const events = produced('customer-profile', 'e', 100);
  const cpAudit = produced('customer-profile', 'ca', 100);
  const scAudit = produced(
    'support-contract',
    'sa',
    100,
    events.map((e) => e.messageId),
  );
  const bpAudit = produced(
    'billing-payment',
    'ba',
    100,
    events.map((e) => e.messageId),
  );
  const evidence = new Map<string, ServiceEvidence>([
    ['customer_profile', { produced: [...events, ...cpAudit], receipts: [], failures: [] }],
    [
      'support_contract',
      {
        produced: scAudit,
        receipts: receipts('support-contract', 'customer-profile', events, 40),
        failures: [],
      },
    ],
    [
      'billing_payment',
      {
        produced: bpAudit,
        receipts: receipts('billing-payment', 'customer-profile', events, 3000),
        failures: failures('billing-payment', 'customer-profile', 20),
      },
    ],
    [
      'audit',
      {
        produced: [],
        receipts: [
          ...receipts('audit', 'customer-profile', cpAudit, 30),
          ...receipts('audit', 'support-contract', scAudit, 30),
          ...receipts('audit', 'billing-payment', bpAudit, 30),
        ],
        failures: [],
      },
    ],
  ]);
  return { manifest, evidence };
}

describe('coupling advice', () => {
  it('ranks the pair whose every transaction needs the other, slowly and with failures, first, and never couples a common owner', () => {
    const { manifest, evidence } = sysops();
    const advice = adviseCoupling(pairEvidence(manifest, evidence));
    const byPair = new Map(advice.map((a) => [a.services.join('+'), a]));
    const billing = byPair.get('billing_payment+customer_profile')!;
    const support = byPair.get('customer_profile+support_contract')!;
    expect(advice[0]).toBe(billing);
    expect(billing.evidence.flows[1]).toMatchObject({
      from: 'customer_profile',
      applied: 100,
      share: 1,
      chained: 100,
      failures: 20,
    });
    expect(billing.evidence.flows[1].lagMs.p95).toBe(3000);
    expect(billing.score).toBeGreaterThan(support.score);
    expect(billing.recommendation).toBe('consolidation');
    expect(billing.reasons.join(' ')).toMatch(
      /100% of customer_profile's messages \(100\) are applied by billing_payment/,
    );
    expect(support.recommendation).toBe('keep-split');
    for (const pair of advice.filter((a) => a.services.includes('audit'))) {
      expect(pair.recommendation).toBe('keep-split');
      expect(pair.evidence.commonTables).toEqual([{ table: 'audit_log', owner: 'audit' }]);
    }
    // Two services that never talk: nothing ties them.
    expect(byPair.get('billing_payment+support_contract')!.score).toBe(0);
  });

  it('suggests the delegate technique for a jointly owned table written mostly by one side, and a data domain when both write', () => {
    const shared: SharedTable[] = [
      {
        table: 'survey',
        ownership: 'joint',
        technique: 'delegate',
        owner: 'support_contract',
        delegates: ['customer_profile'],
      },
    ];
    const { manifest } = sysops(shared);
    const oneWay = new Map<string, ServiceEvidence>([
      ['customer_profile', { produced: produced('customer-profile', 'e', 10), receipts: [], failures: [] }],
      [
        'support_contract',
        {
          produced: [],
          receipts: receipts(
            'support-contract',
            'customer-profile',
            produced('customer-profile', 'e', 3),
            10,
          ),
          failures: [],
        },
      ],
    ]);
    const delegate = adviseCoupling(pairEvidence(manifest, oneWay)).find(
      (a) => a.services.join() === 'customer_profile,support_contract',
    )!;
    expect(delegate.recommendation).toBe('delegate');
    expect(delegate.reasons).toContain("They jointly own 'survey' (delegate).");

    const both = new Map<string, ServiceEvidence>([
      [
        'customer_profile',
        {
          produced: produced('customer-profile', 'e', 10),
          receipts: receipts(
            'customer-profile',
            'support-contract',
            produced('support-contract', 's', 3),
            10,
          ),
          failures: [],
        },
      ],
      [
        'support_contract',
        {
          produced: produced('support-contract', 's', 10),
          receipts: receipts(
            'support-contract',
            'customer-profile',
            produced('customer-profile', 'e', 3),
            10,
          ),
          failures: [],
        },
      ],
    ]);
    const domain = adviseCoupling(pairEvidence(manifest, both)).find(
      (a) => a.services.join() === 'customer_profile,support_contract',
    )!;
    expect(domain.recommendation).toBe('data-domain');
  });

  it('writes the ranking as text and as an ADR draft naming the top pair', () => {
    const { manifest, evidence } = sysops();
    const advice = adviseCoupling(pairEvidence(manifest, evidence));
    expect(couplingText(advice).split('\n')[0]).toMatch(
      /^billing_payment ↔ customer_profile {3}score 0\.\d\d {3}consolidation$/,
    );
    const markdown = couplingMarkdown(advice, {
      since: '7d',
      generatedAt: new Date(t0),
      manifestFile: 'converge.yaml',
    });
    expect(markdown.split('\n')[0]).toBe(
      '# ADR: Service boundaries: billing_payment and customer_profile (consolidation)',
    );
    expect(markdown).toContain('Status: proposed');
    expect(markdown).toContain('| billing_payment ↔ customer_profile |');
    expect(markdown).toContain('### customer_profile and support_contract: keep-split');
  });

  it('ranks a pair whose sagas are often compensated above pairs with fire-and-forget messages, with the saga figures as reasons', () => {
    const { manifest } = sysops();
    const scAudit = produced('support-contract', 'sa', 50);
    // Customer Profile orchestrates: 20 sagas call Support Contract and Billing Payment (8 were
    // compensated, 1 of them needed a person), 10 more call Billing Payment only.
    const evidence = new Map<string, ServiceEvidence>([
      [
        'customer_profile',
        {
          produced: [],
          receipts: [],
          failures: [],
          sagas: [
            ...sagas('s', 20, ['support_contract', 'billing_payment'], {
              compensated: 8,
              attention: 1,
              durationMs: 1_500,
            }),
            ...sagas('b', 10, ['billing_payment']),
          ],
        },
      ],
      ['support_contract', { produced: scAudit, receipts: [], failures: [] }],
      ['audit', { produced: [], receipts: receipts('audit', 'support-contract', scAudit, 30), failures: [] }],
    ]);
    const advice = adviseCoupling(pairEvidence(manifest, evidence));
    const byPair = new Map(advice.map((a) => [a.services.join('+'), a]));
    const sagaPair = byPair.get('billing_payment+support_contract')!;
    const audit = byPair.get('audit+support_contract')!;
    expect(sagaPair.evidence.sagas).toMatchObject({
      together: 20,
      share: 1,
      shareOf: 'support_contract',
      compensated: 8,
      neededAttention: 1,
      windowMs: { p95: 1_500, samples: 20 },
      orchestrators: ['customer_profile'],
    });
    expect(sagaPair.score).toBeGreaterThan(audit.score);
    expect(advice.indexOf(sagaPair)).toBeLessThan(advice.indexOf(audit));
    expect(audit.recommendation).toBe('keep-split');
    expect(sagaPair.recommendation).toBe('consolidation');
    expect(sagaPair.reasons).toContain(
      '20 sagas span both (100% of the sagas support_contract takes part in; orchestrated by customer_profile): each is one business transaction split across them; 40% were compensated (atomicity lost and repaired by hand-written compensations); 1 needed a person.',
    );
    expect(sagaPair.reasons).toContain(
      'A saga spanning them runs for up to 1500 ms (p95 from start to end): the window in which they disagree.',
    );
    // The orchestrator takes part in every one of its sagas: each participant is paired with it.
    expect(byPair.get('billing_payment+customer_profile')!.evidence.sagas.together).toBe(30);
    expect(byPair.get('customer_profile+support_contract')!.evidence.sagas.together).toBe(20);
    expect(couplingText(advice)).toMatch(
      /billing_payment ↔ support_contract {3}score \d\.\d\d {3}consolidation {3}sagas 20 \(8 compensated, 1 needed a person\)/,
    );
    const markdown = couplingMarkdown(advice, { since: '7d', generatedAt: new Date(t0), manifestFile: 'm' });
    expect(markdown).toMatch(
      /\| billing_payment ↔ support_contract \| [\d.]+ \| 0% \| 0 \| 0 \| 20 \| 8 \| 1 \| 1500 \|/,
    );
  });

  it('does not keep split a pair whose sagas always complete: they are still one transaction in two places', () => {
    const { manifest } = sysops();
    const evidence = new Map<string, ServiceEvidence>([
      [
        'customer_profile',
        { produced: [], receipts: [], failures: [], sagas: sagas('s', 10, ['billing_payment']) },
      ],
    ]);
    const pair = adviseCoupling(pairEvidence(manifest, evidence)).find(
      (a) => a.services.join() === 'billing_payment,customer_profile',
    )!;
    expect(pair.evidence.sagas).toMatchObject({ together: 10, compensated: 0, neededAttention: 0 });
    expect(pair.recommendation).toBe('delegate');
    expect(pair.reasons.at(-1)).toMatch(
      /^Consider the delegate technique .*the sagas spanning billing_payment and customer_profile/,
    );
  });
});
