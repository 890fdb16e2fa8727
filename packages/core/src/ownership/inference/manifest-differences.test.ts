import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest, ServiceDeclaration } from '../manifest.js';
import type { CapturedStatement } from './captured-statement.js';
import { compareWithManifest, DifferenceKind } from './manifest-differences.js';
import { proposeManifest } from './proposed-manifest.js';
import { createRoleMapping } from './role-mapping.js';
import { loadSqlParser, type SqlParser } from './sql-parser.js';
import { createTableResolver } from './table-resolver.js';
import { observeTraffic, type TrafficObservations } from './traffic-observations.js';

let parser: SqlParser;
beforeAll(async () => {
  parser = await loadSqlParser();
});

const TRAFFIC: CapturedStatement[] = [
  {
    role: 'customer_profile_runtime',
    sql: 'INSERT INTO customer_profile.customer (id) VALUES ($1)',
    calls: 5,
  },
  {
    role: 'customer_profile_runtime',
    sql: 'SELECT * FROM customer_profile.customer WHERE id = $1',
    calls: 9,
  },
  {
    role: 'support_contract',
    sql: 'UPDATE support_contract.contract SET status = $1 WHERE id = $2',
    calls: 4,
  },
  {
    role: 'support_contract',
    sql: 'WITH c AS (SELECT id FROM customer_profile.customer) INSERT INTO support_contract.contract SELECT id FROM c',
    calls: 2,
  },
  { role: 'billing_payment', sql: 'INSERT INTO billing_payment.payment (id) VALUES ($1)', calls: 3 },
  {
    role: 'billing_payment',
    sql: 'UPDATE support_contract.contract SET status = $1 WHERE id = $2',
    calls: 1,
  },
  { role: 'billing_payment', sql: 'SELECT * FROM customer_profile.customer', calls: 2 },
  { role: 'billing_payment', sql: 'SELECT * FROM billing_payment.ledger', calls: 1 },
  { role: 'billing_payment', sql: 'SELEC broken', calls: 1 },
  { role: 'postgres', sql: 'CREATE TABLE customer_profile.customer (id int)', calls: 1 },
];

function observe(statements = TRAFFIC, services?: readonly string[]): TrafficObservations {
  return observeTraffic({
    source: 'pg_stat_statements',
    database: 'postgres://127.0.0.1/app',
    statements,
    parser,
    resolveTable: createTableResolver(),
    serviceOf: createRoleMapping(services === undefined ? {} : { services }),
    ignoredRoles: [{ role: 'postgres', reason: 'superuser' }],
  });
}

function service(name: string, owns: string[], reads: ServiceDeclaration['reads'] = []): ServiceDeclaration {
  return { name, database: `\${${name.toUpperCase()}_URL}`, schema: name, owns, reads, writes: [] };
}

const MANIFEST: Manifest = {
  version: 1,
  services: [
    service('customer_profile', ['customer']),
    service('support_contract', ['contract'], [{ service: 'customer_profile', table: 'customer' }]),
    service('billing_payment', ['payment', 'refund']),
  ],
  shared: [],
  copies: [],
};

describe('observeTraffic', () => {
  it('attributes reads and writes per role and service, counts calls, skips superusers and bad SQL', () => {
    const observations = observe();
    expect(observations.statements).toEqual({ total: 10, parsed: 8, unparsable: 1, ignored: 1 });
    expect(observations.unparsable[0]).toMatchObject({ role: 'billing_payment', sql: 'SELEC broken' });
    const writes = observations.accesses
      .filter((access) => access.access === 'write')
      .map((access) => `${access.service}>${access.table}x${access.calls}`);
    expect(writes).toEqual([
      'billing_payment>billing_payment.paymentx3',
      'customer_profile>customer_profile.customerx5',
      'billing_payment>support_contract.contractx1',
      'support_contract>support_contract.contractx6',
    ]);
    expect(observations.roles).toContainEqual({
      role: 'postgres',
      service: 'postgres',
      ignored: 'superuser',
    });
    expect(observations.roles).toContainEqual({
      role: 'customer_profile_runtime',
      service: 'customer_profile',
    });
  });
});

describe('compareWithManifest', () => {
  it('puts the undeclared writer first, then undeclared readers, then info', () => {
    const differences = compareWithManifest(observe(undefined, ['customer_profile']), MANIFEST);
    expect(differences.map((d) => `${d.kind} ${d.service ?? '-'} ${d.table}`)).toEqual([
      'UNDECLARED_WRITER billing_payment support_contract.contract',
      'UNDECLARED_READER billing_payment customer_profile.customer',
      'OWNER_NEVER_WRITES billing_payment billing_payment.refund',
      'UNDECLARED_TABLE - billing_payment.ledger',
    ]);
    const [headline] = differences;
    expect(headline).toMatchObject({
      severity: 'problem',
      roles: ['billing_payment'],
      operations: ['update'],
      calls: 1,
    });
    expect(headline?.message).toContain('the manifest has it owned by support_contract');
    expect(headline?.remedy).toContain('Route the change through support_contract');
  });

  it('accepts a declared reader and a data-domain writer, and flags a delegate writing directly', () => {
    const manifest: Manifest = {
      ...MANIFEST,
      services: [
        service('customer_profile', ['customer']),
        service('support_contract', [], [{ service: 'customer_profile', table: 'customer' }]),
        service('billing_payment', ['payment'], [{ service: 'customer_profile', table: 'customer' }]),
      ],
      shared: [
        {
          table: 'contract',
          ownership: 'joint',
          technique: 'delegate',
          owner: 'support_contract',
          delegates: ['billing_payment'],
        },
        {
          table: 'ledger',
          ownership: 'joint',
          technique: 'data-domain',
          schema: 'billing_payment',
          services: ['billing_payment'],
        },
      ],
    };
    const problems = compareWithManifest(observe(), manifest).filter((d) => d.severity === 'problem');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(
      /joint \(delegate\), owner support_contract.*goes through support_contract/,
    );
  });

  it('reports a role that maps to no declared service as a writer that does not own the table', () => {
    const differences = compareWithManifest(
      observe([{ role: 'reporting_job', sql: 'DELETE FROM billing_payment.payment', calls: 1 }]),
      MANIFEST,
    );
    expect(differences[0]).toMatchObject({
      kind: DifferenceKind.UNDECLARED_WRITER,
      service: 'reporting_job',
      declaredService: false,
    });
    expect(differences[0]?.message).toContain('(not in the manifest)');
  });
});

describe('proposeManifest', () => {
  it('proposes owners only for tables one service writes, and never a reader as owner', () => {
    const yaml = proposeManifest(observe());
    expect(yaml).toContain(
      `  customer_profile:\n    database: $\{CUSTOMER_PROFILE_DATABASE_URL}\n    owns: [customer]\n`,
    );
    expect(yaml).toContain(
      `  billing_payment:\n    database: $\{BILLING_PAYMENT_DATABASE_URL}\n    owns: [payment]\n`,
    );
    expect(yaml).toContain('    reads: [customer_profile.customer]');
    expect(yaml).toMatch(
      /# support_contract\.contract is written by billing_payment, support_contract: declare it under shared:/,
    );
    expect(yaml).toContain(
      '# billing_payment reads billing_payment.ledger, which no service was seen writing',
    );
    expect(yaml).not.toMatch(/owns: \[[^\]]*contract/);
    expect(yaml).not.toMatch(/owns: \[[^\]]*ledger/);
    expect(yaml).toContain('# 10 statement(s): 8 parsed, 1 could not be parsed, 1 of ignored roles.');
  });

  it('gives a service whose tables live elsewhere a schema', () => {
    const yaml = proposeManifest(
      observe([{ role: 'audit_runtime', sql: 'INSERT INTO logs.audit_log VALUES (1)', calls: 1 }]),
    );
    expect(yaml).toContain(
      `  audit:\n    database: $\{AUDIT_DATABASE_URL}\n    schema: logs\n    owns: [audit_log]\n`,
    );
  });
});
