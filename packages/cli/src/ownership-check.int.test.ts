// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the manifest's own syntax for environment variables.
/**
 * `converge ownership check` and `converge ownership graph` as real processes, on manifest files:
 * the book's manifest is sound (exit 0); each check the data-ownership issue lists, broken once,
 * is reported with its code, its path and the line and column an editor jumps to (exit 3); a file
 * that cannot be read or is not YAML exits 2; `--json` prints only the problems' JSON.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runConverge } from '../test/run-converge.js';

const dir = mkdtempSync(join(tmpdir(), 'converge-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The book's manifest: single, common and joint ownership with every technique, reads, a copy. */
const SOUND = `version: 1
services:
  customer_profile:
    database: \${CUSTOMER_PROFILE_DATABASE_URL}
    owns: [customer]
    reads: [support_contract.contract]
  support_contract:
    database: \${SUPPORT_CONTRACT_DATABASE_URL}
    owns: [contract]
  billing_payment:
    database: postgres://billing:\${BILLING_PASSWORD}@db:5432/billing
    owns: [billing, customer_copy]
  audit:
    database: \${AUDIT_DATABASE_URL}
    owns: [audit_log]
  survey:
    database: \${SURVEY_DATABASE_URL}
    owns: [survey]
  customer_survey:
    database: \${CUSTOMER_SURVEY_DATABASE_URL}
  catalog:
    database: \${CATALOG_DATABASE_URL}
    owns: [product]
  inventory:
    database: \${INVENTORY_DATABASE_URL}
    owns: [product_inventory]
    writes: [product_price]
  ticketing:
    database: \${TICKETING_DATABASE_URL}
    owns: [ticket]
shared:
  audit_log:
    ownership: common
    owner: audit
    writers: [customer_profile, support_contract]
  survey:
    ownership: joint
    technique: delegate
    owner: survey
    delegates: [customer_survey]
  product:
    ownership: joint
    technique: table-split
    parts: { product: catalog, product_inventory: inventory }
  product_price:
    ownership: joint
    technique: data-domain
    schema: product_domain
    services: [catalog, inventory]
  ticket:
    ownership: joint
    technique: consolidation
    into: ticketing
    from: [ticket_management, ticket_assignment]
copies:
  - of: customer_profile.customer
    in: billing_payment.customer_copy
    key: id
    columns: { status: customer_status }
`;

/** SOUND with each `[from, to]` replaced; each `from` must occur exactly once. */
function edit(...changes: readonly (readonly [string, string])[]): string {
  let text = SOUND;
  for (const [from, to] of changes) {
    if (text.split(from).length !== 2) throw new Error(`'${from}' is not in the manifest exactly once`);
    text = text.replace(from, to);
  }
  return text;
}

/** The manifest with `billing_payment`'s first table renamed (line 12, column 12). */
const billingTable = (name: string) => edit(['owns: [billing,', `owns: [${name},`]);
const LONG = 'x'.repeat(63);

interface CheckCase {
  readonly name: string;
  readonly text: string;
  readonly code: string;
  /** `line:column` of the problem. */
  readonly at: string;
  readonly path: string;
  /** Words the message or remedy must contain. */
  readonly says?: string;
}

const CASES: readonly CheckCase[] = [
  {
    name: 'a table claimed by two owners',
    text: edit(['owns: [contract]', 'owns: [contract, customer]']),
    code: 'TABLE_CLAIMED_BY_TWO_OWNERS',
    at: '9:22',
    path: 'services.support_contract.owns[1]',
  },
  {
    name: 'a table written by several services without a shared declaration',
    text: edit([
      'owns: [billing, customer_copy]\n',
      'owns: [billing, customer_copy]\n    writes: [contract]\n',
    ]),
    code: 'TABLE_WRITTEN_BY_SEVERAL',
    at: '13:14',
    path: 'services.billing_payment.writes[0]',
  },
  {
    name: 'common without an owner',
    text: edit(['    owner: audit\n', '']),
    code: 'COMMON_OWNER_MISSING',
    at: '32:3',
    path: 'shared.audit_log',
  },
  {
    name: 'a common owner that is not a service',
    text: edit(['owner: audit\n', 'owner: audits\n']),
    code: 'UNKNOWN_SERVICE',
    at: '34:5',
    path: 'shared.audit_log.owner',
    says: "Did you mean 'audit'?",
  },
  {
    name: 'joint without a technique',
    text: edit(['    technique: delegate\n', '']),
    code: 'JOINT_TECHNIQUE_MISSING',
    at: '36:3',
    path: 'shared.survey',
  },
  {
    name: 'delegate without its owner',
    text: edit(['    owner: survey\n', '']),
    code: 'DELEGATE_OWNER_MISSING',
    at: '36:3',
    path: 'shared.survey',
  },
  {
    name: 'a delegating service that still owns the table',
    text: edit(['CUSTOMER_SURVEY_DATABASE_URL}\n', 'CUSTOMER_SURVEY_DATABASE_URL}\n    owns: [survey]\n']),
    code: 'DELEGATE_STILL_OWNS',
    at: '21:12',
    path: 'services.customer_survey.owns[0]',
  },
  {
    name: 'a delegating service that still writes the table directly',
    text: edit(['CUSTOMER_SURVEY_DATABASE_URL}\n', 'CUSTOMER_SURVEY_DATABASE_URL}\n    writes: [survey]\n']),
    code: 'SHARED_TABLE_WRITTEN_DIRECTLY',
    at: '21:14',
    path: 'services.customer_survey.writes[0]',
  },
  {
    name: 'data-domain without its schema',
    text: edit(['    schema: product_domain\n', '']),
    code: 'DATA_DOMAIN_SCHEMA_MISSING',
    at: '45:3',
    path: 'shared.product_price',
  },
  {
    name: 'a table-split part owned by a second service',
    text: edit(['owns: [product_inventory]', 'owns: [product_inventory, product]']),
    code: 'TABLE_SPLIT_PART_NOT_OWNED',
    at: '26:31',
    path: 'services.inventory.owns[1]',
  },
  {
    name: 'a table-split part its service does not own',
    text: edit(['product_inventory: inventory }', 'product_inventory: catalog }']),
    code: 'TABLE_SPLIT_PART_NOT_OWNED',
    at: '44:32',
    path: 'shared.product.parts.product_inventory',
  },
  {
    name: 'a consolidation whose services still appear apart',
    text: edit([
      'owns: [ticket]\n',
      'owns: [ticket]\n  ticket_assignment:\n    database: ${TICKET_ASSIGNMENT_DATABASE_URL}\n',
    ]),
    code: 'CONSOLIDATED_SERVICE_STILL_APART',
    at: '56:31',
    path: 'shared.ticket.from[1]',
  },
  {
    name: 'a read of an unknown service',
    text: edit(['reads: [support_contract.contract]', 'reads: [support.contract]']),
    code: 'UNKNOWN_SERVICE',
    at: '6:13',
    path: 'services.customer_profile.reads[0]',
  },
  {
    name: 'a read of an unknown table',
    text: edit(['reads: [support_contract.contract]', 'reads: [support_contract.contracts]']),
    code: 'UNKNOWN_TABLE',
    at: '6:13',
    path: 'services.customer_profile.reads[0]',
  },
  {
    name: 'a copy whose owner table is not declared',
    text: edit(['of: customer_profile.customer', 'of: customer_profile.customers']),
    code: 'COPY_SOURCE_UNDECLARED',
    at: '56:5',
    path: 'copies[0].of',
  },
  {
    name: 'a copy without its key',
    text: edit(['    key: id\n', '']),
    code: 'COPY_KEY_MISSING',
    at: '56:5',
    path: 'copies[0]',
  },
  {
    name: 'a password written in the file (masked in the output)',
    text: edit(['billing:${BILLING_PASSWORD}@', 'billing:hunter2@']),
    code: 'DATABASE_PASSWORD_IN_FILE',
    at: '11:5',
    path: 'services.billing_payment.database',
    says: 'Remedy: Write ${BILLING_PAYMENT_PASSWORD} in place of the password',
  },
  {
    name: 'an uppercase name',
    text: billingTable('Billing'),
    code: 'IDENTIFIER_INVALID',
    at: '12:12',
    path: 'services.billing_payment.owns[0]',
    says: "for example 'billing'",
  },
  {
    name: 'a name longer than 63 bytes',
    text: billingTable('b'.repeat(64)),
    code: 'IDENTIFIER_TOO_LONG',
    at: '12:12',
    path: 'services.billing_payment.owns[0]',
  },
  {
    name: 'two names that collide once truncated',
    text: billingTable(`${LONG}_one, ${LONG}_two`),
    code: 'IDENTIFIER_TRUNCATION_COLLISION',
    at: '12:81',
    path: 'services.billing_payment.owns[1]',
  },
  {
    name: 'a NUL byte',
    text: billingTable('"bill\\0ing"'),
    code: 'IDENTIFIER_NUL',
    at: '12:12',
    path: 'services.billing_payment.owns[0]',
  },
  {
    name: 'a reserved word',
    text: billingTable('user'),
    code: 'IDENTIFIER_RESERVED',
    at: '12:12',
    path: 'services.billing_payment.owns[0]',
  },
  ...[
    ['a quote', `'bill"ing'`, `contains '"'`],
    ['a semicolon', `'billing; drop table audit_log'`, "contains ';'"],
    ['a -- comment', `'billing--'`, "contains '-'"],
    ['a /* comment', `'billing/*x*/'`, "contains '/'"],
    ['a Unicode look-alike', 'b\u0456lling', 'non-ASCII character U+0456'],
  ].map(
    ([name, table, says]): CheckCase => ({
      name: `${name} in a name`,
      text: billingTable(table as string),
      code: 'IDENTIFIER_INVALID',
      at: '12:12',
      path: 'services.billing_payment.owns[0]',
      says: says as string,
    }),
  ),
  {
    name: 'an empty name',
    text: billingTable("''"),
    code: 'IDENTIFIER_EMPTY',
    at: '12:12',
    path: 'services.billing_payment.owns[0]',
  },
  {
    name: 'YAML that is not a mapping',
    text: '- a\n- b\n',
    code: 'MANIFEST_NOT_MAPPING',
    at: '1:1',
    path: '',
  },
  {
    name: 'a wrong type',
    text: edit(['owns: [audit_log]', 'owns: audit_log']),
    code: 'WRONG_TYPE',
    at: '15:5',
    path: 'services.audit.owns',
  },
  {
    name: 'an unknown key',
    text: edit(['owns: [ticket]', 'ownz: [ticket]']),
    code: 'UNKNOWN_KEY',
    at: '30:5',
    path: 'services.ticketing.ownz',
    says: "Did you mean 'owns'?",
  },
];

/** Writes `text` as `converge.yaml` in a directory of its own and returns the directory. */
function manifestDir(name: string, text: string): string {
  const caseDir = join(dir, name.replace(/[^a-z0-9]+/gi, '-'));
  mkdirSync(caseDir, { recursive: true });
  writeFileSync(join(caseDir, 'converge.yaml'), text);
  return caseDir;
}

describe('converge ownership check', () => {
  it('says the book’s manifest is sound, reading ./converge.yaml by default: exit 0', async () => {
    const run = await runConverge(['ownership', 'check'], {}, { cwd: manifestDir('sound', SOUND) });
    expect(run).toEqual({ code: 0, stdout: 'converge.yaml: the manifest is sound.\n', stderr: '' });
  });

  it.each(CASES.map((check) => [check.name, check]))('%s: exit 3', async (_name, check) => {
    const cwd = manifestDir(check.name, check.text);
    const run = await runConverge(['ownership', 'check', '-f', 'converge.yaml'], {}, { cwd });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(3);
    const heading = `converge.yaml:${check.at}  ${check.code}${check.path === '' ? '' : `  ${check.path}`}\n`;
    const block = run.stdout.split('\n\n').find((candidate) => candidate.startsWith(heading));
    expect(block, run.stdout).toMatch(/^.+\n {2}\S.+\n {2}Remedy: \S.+$/);
    if (check.says !== undefined) expect(block).toContain(check.says);
    expect(run.stdout).not.toContain('hunter2');
    expect(run.stdout).toMatch(
      /\nconverge\.yaml: \d+ problem\(s\) of \d+ kind\(s\); the manifest is not sound\.\n$/,
    );
  });

  it('prints only JSON with --json: the file, whether it is sound, each problem', async () => {
    const cwd = manifestDir('json', edit(['owns: [contract]', 'owns: [contract, customer]']));
    const run = await runConverge(['ownership', 'check', '-f', 'converge.yaml', '--json'], {}, { cwd });
    expect(run.code).toBe(3);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      file: 'converge.yaml',
      sound: false,
      problems: [
        {
          code: 'TABLE_CLAIMED_BY_TWO_OWNERS',
          path: 'services.support_contract.owns[1]',
          line: 9,
          column: 22,
          message:
            "Table 'customer' is claimed by 'customer_profile' and by 'support_contract'; a table has one owner.",
          remedy: expect.stringContaining('declare shared.customer'),
        },
      ],
    });
    const sound = await runConverge(
      ['ownership', 'check', '--json'],
      {},
      { cwd: manifestDir('sound', SOUND) },
    );
    expect(sound.code).toBe(0);
    expect(JSON.parse(sound.stdout)).toEqual({ file: 'converge.yaml', sound: true, problems: [] });
  });

  it('exits 2 for a file that is not YAML, naming where the parser stopped', async () => {
    const cwd = manifestDir('not-yaml', 'version: 1\nservices: [\n');
    const run = await runConverge(['ownership', 'check', '-f', 'converge.yaml'], {}, { cwd });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^converge: The manifest 'converge\.yaml' is not valid YAML: converge\.yaml:3:1 .+\n$/,
    );
    const json = await runConverge(['ownership', 'check', '-f', 'converge.yaml', '--json'], {}, { cwd });
    expect(json.code).toBe(2);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'MANIFEST_YAML_SYNTAX', exitCode: 2 } });
  });

  it('exits 2 for a file that cannot be read', async () => {
    const run = await runConverge(['ownership', 'check', '-f', 'missing.yaml'], {}, { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "converge: The manifest 'missing.yaml' cannot be read (ENOENT); give the path of your converge.yaml with -f.\n",
    );
  });
});

describe('converge ownership graph', () => {
  it('draws a sound manifest as Mermaid by default, or as Graphviz', async () => {
    const cwd = manifestDir('sound', SOUND);
    const mermaid = await runConverge(['ownership', 'graph'], {}, { cwd });
    expect(mermaid.code).toBe(0);
    expect(mermaid.stdout).toMatch(/^flowchart LR\n/);
    expect(mermaid.stdout).toContain('svc_audit ==>|"owns"| tbl_audit__audit_log');
    const dot = await runConverge(['ownership', 'graph', '--format', 'dot'], {}, { cwd });
    expect(dot.code).toBe(0);
    expect(dot.stdout).toMatch(/^digraph /);
    expect(dot.stdout).toContain('svc_audit');
  });

  it('refuses a manifest with problems: exit 2, the first problems and the command that lists them', async () => {
    const cwd = manifestDir('graph-broken', billingTable('Billing'));
    const run = await runConverge(['ownership', 'graph', '-f', 'converge.yaml'], {}, { cwd });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('converge.yaml:12:12 IDENTIFIER_INVALID');
    expect(run.stderr).toContain("Run 'converge ownership check -f converge.yaml'");
  });
});
