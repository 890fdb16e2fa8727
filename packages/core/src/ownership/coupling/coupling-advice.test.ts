import { describe, expect, it } from 'vitest';
import type { FailureEvidence, ProducedEvidence, ReceiptEvidence } from '../../ports/evidence-store.js';
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
});
