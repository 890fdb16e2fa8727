import { describe, expect, it } from 'vitest';
import type { Manifest } from './manifest.js';
import { ownershipGraph } from './ownership-graph.js';

// The book's examples in one manifest: single ownership, Audit as common ownership, Product as a
// table split, Survey delegated, and a copy Billing keeps of the customer.
const manifest: Manifest = {
  version: 1,
  services: [
    {
      name: 'customer_profile',
      database: 'sqlite:cp.db',
      schema: 'customer_profile',
      owns: ['customer'],
      reads: [],
    },
    {
      name: 'billing_payment',
      database: 'sqlite:bp.db',
      schema: 'billing_payment',
      owns: ['billing', 'customer_copy'],
      reads: [{ service: 'customer_profile', table: 'customer' }],
    },
    { name: 'audit', database: 'sqlite:a.db', schema: 'audit', owns: [], reads: [] },
    { name: 'catalog', database: 'sqlite:c.db', schema: 'catalog', owns: ['product'], reads: [] },
    {
      name: 'inventory',
      database: 'sqlite:i.db',
      schema: 'inventory',
      owns: ['product_inventory'],
      reads: [],
    },
    { name: 'survey', database: 'sqlite:s.db', schema: 'survey', owns: [], reads: [] },
  ],
  shared: [
    {
      table: 'audit_log',
      ownership: 'common',
      owner: 'audit',
      writers: ['customer_profile', 'billing_payment'],
    },
    {
      table: 'product',
      ownership: 'joint',
      technique: 'table-split',
      parts: { product: 'catalog', product_inventory: 'inventory' },
    },
    {
      table: 'survey',
      ownership: 'joint',
      technique: 'delegate',
      owner: 'survey',
      delegates: ['customer_profile'],
    },
  ],
  copies: [
    {
      of: { service: 'customer_profile', table: 'customer' },
      in: { service: 'billing_payment', table: 'customer_copy' },
      key: ['id'],
      columns: {},
    },
  ],
};

describe('ownershipGraph', () => {
  it('draws owners, common and joint tables, delegation, reads and copies in Mermaid', () => {
    const text = ownershipGraph(manifest, 'mermaid');
    expect(text.startsWith('flowchart LR\n')).toBe(true);
    expect(text).toContain('svc_customer_profile ==>|"owns"| tbl_customer_profile__customer');
    expect(text).toContain('svc_audit ==>|"owns"| tbl_shared__audit_log');
    expect(text).toContain('tbl_shared__audit_log[("audit_log (common)")]');
    expect(text).toContain('svc_billing_payment -->|"messages for audit_log"| svc_audit');
    expect(text).toContain('svc_inventory ==>|"owns part product_inventory"| tbl_shared__product');
    expect(text).toContain('svc_customer_profile -->|"delegates writes of survey"| svc_survey');
    expect(text).toContain('svc_billing_payment -.->|"reads"| tbl_customer_profile__customer');
    expect(text).toContain(
      'tbl_customer_profile__customer -.->|"copy (key id)"| tbl_billing_payment__customer_copy',
    );
  });

  it('draws the same graph in Graphviz dot, one node per table and service', () => {
    const text = ownershipGraph(manifest, 'dot');
    expect(text).toMatch(/^digraph ownership \{\n {2}rankdir=LR;\n/);
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text).toContain('svc_audit -> tbl_shared__audit_log [label="owns", penwidth=2];');
    expect(text).toContain(
      'tbl_customer_profile__customer -> tbl_billing_payment__customer_copy [label="copy (key id)", style=dotted];',
    );
    const nodeLines = text.split('\n').filter((line) => /^ {2}\w+ \[label=/.test(line));
    const ids = nodeLines.map((line) => line.trim().split(' ')[0]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('tbl_shared__survey');
  });
});
