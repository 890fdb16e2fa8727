import { describe, expect, it } from 'vitest';
import { compileLogLinePrefix } from './log-line-prefix.js';
import { readPostgresLog } from './postgres-log.js';

const DEBIAN = compileLogLinePrefix('%m [%p] %q%u@%d ');

const LOG = [
  '2026-12-02 10:00:00.123 UTC [101] LOG:  checkpoint starting: time',
  '2026-12-02 10:00:01.001 UTC [202] billing_payment@app LOG:  statement: UPDATE support_contract.contract',
  '\t   SET status = 2',
  '\t WHERE id = 7',
  '2026-12-02 10:00:01.002 UTC [203] support_contract@app LOG:  execute <unnamed>: SELECT * FROM contract WHERE id = $1',
  "2026-12-02 10:00:01.002 UTC [203] support_contract@app DETAIL:  parameters: $1 = '7'",
  '2026-12-02 10:00:01.003 UTC [204] customer_profile@other LOG:  statement: INSERT INTO customer VALUES (1)',
  '2026-12-02 10:00:01.004 UTC [205] billing_payment@app ERROR:  relation "nope" does not exist at character 15',
  '2026-12-02 10:00:01.004 UTC [205] billing_payment@app STATEMENT:  SELECT * FROM nope',
  '2026-12-02 10:00:01.005 UTC [206] audit@app LOG:  duration: 0.412 ms  statement: DELETE FROM audit.audit_log',
  '2026-12-02 10:00:01.006 UTC [206] audit@app LOG:  duration: 0.100 ms  parse <unnamed>: SELECT 1',
  '2026-12-02 10:00:01.007 UTC [206] audit@app LOG:  execute s1/p1: SELECT 2',
  '',
].join('\n');

describe('readPostgresLog', () => {
  it('finds each statement with its role and joins multi-line statements', () => {
    const result = readPostgresLog(LOG, DEBIAN, 'app');
    expect(result.statements).toEqual([
      {
        role: 'billing_payment',
        sql: 'UPDATE support_contract.contract\n   SET status = 2\n WHERE id = 7',
        calls: 1,
      },
      { role: 'support_contract', sql: 'SELECT * FROM contract WHERE id = $1', calls: 1 },
      { role: 'audit', sql: 'DELETE FROM audit.audit_log', calls: 1 },
      { role: 'audit', sql: 'SELECT 2', calls: 1 },
    ]);
    expect(result.otherDatabases).toBe(1);
    expect(result.entries).toBe(10);
  });

  it('keeps every database when none is named', () => {
    expect(readPostgresLog(LOG, DEBIAN).statements.map((s) => s.role)).toContain('customer_profile');
  });

  it('understands padding and other escapes', () => {
    const prefix = compileLogLinePrefix('%t [%-6p] user=%u,db=%d,app=%a,client=%h %%x ');
    const line =
      '2026-12-02 10:00:01 UTC [42    ] user=billing_payment,db=app,app=psql,client=[local] %x LOG:  statement: SELECT 1';
    expect(readPostgresLog(line, prefix).statements).toEqual([
      { role: 'billing_payment', sql: 'SELECT 1', calls: 1 },
    ]);
  });

  it('refuses a prefix without %u, naming the setting to use', () => {
    expect(() => compileLogLinePrefix('%m [%p] ')).toThrow(/no %u.*log_line_prefix = '%m \[%p\] %q%u@%d '/);
  });
});
