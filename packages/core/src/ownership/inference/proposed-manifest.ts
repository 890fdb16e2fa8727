/**
 * A manifest proposed from traffic alone: one service per role seen (after the role mapping);
 * each table exactly one service writes goes to that service's `owns`; a table several services
 * write is left out of `owns` and named in a comment suggesting a `shared:` declaration (chapter 9:
 * common or joint ownership — a choice for people, not for a tool); a table a service only reads
 * goes to its `reads` as `owner.table` when it has a single owner.
 *
 * The manifest has one schema per service. A service whose owned tables all live in one schema
 * other than its name gets `schema:`; tables it alone writes in further schemas are named in a
 * comment. Names that are not plain identifiers are quoted, for `ownership check` to report.
 */
import { IDENTIFIER_PATTERN } from '../identifiers.js';
import type { TrafficObservations } from './traffic-observations.js';

interface TableFacts {
  readonly table: string;
  readonly schema: string;
  readonly name: string;
  readonly writers: Set<string>;
  readonly readers: Set<string>;
}

interface ServicePlan {
  readonly name: string;
  schema: string;
  readonly owns: string[];
  readonly reads: string[];
  readonly comments: string[];
}

/**
 * The proposed `converge.yaml`, as YAML text with explanatory comments.
 *
 * @example writeFileSync('converge.yaml', proposeManifest(observations));
 */
export function proposeManifest(observations: TrafficObservations): string {
  const tables = factsOf(observations);
  const plans = new Map<string, ServicePlan>();
  const plan = (service: string): ServicePlan => {
    let entry = plans.get(service);
    if (entry === undefined) {
      entry = { name: service, schema: service, owns: [], reads: [], comments: [] };
      plans.set(service, entry);
    }
    return entry;
  };
  const owned = [...tables.values()].filter((table) => table.writers.size === 1);
  for (const service of new Set(owned.map((table) => only(table.writers)))) {
    placeOwnedTables(
      plan(service),
      owned.filter((table) => only(table.writers) === service),
    );
  }
  const ownerOf = (table: TableFacts): ServicePlan | undefined => {
    if (table.writers.size !== 1) return undefined;
    const owner = plans.get(only(table.writers));
    return owner !== undefined && owner.schema === table.schema ? owner : undefined;
  };
  const shared: string[] = [];
  for (const table of tables.values()) {
    if (table.writers.size > 1) {
      shared.push(
        `# ${table.table} is written by ${[...table.writers].sort().join(', ')}: declare it under shared:`,
        '#   as common (one owner; the others send it messages) or joint with a technique',
        '#   (table-split, data-domain, delegate, consolidation).',
      );
    }
    for (const reader of table.readers) {
      if (table.writers.has(reader)) continue;
      const owner = ownerOf(table);
      if (owner !== undefined) plan(reader).reads.push(`${scalar(owner.name)}.${scalar(table.name)}`);
      else if (table.writers.size === 0)
        plan(reader).comments.push(`reads ${table.table}, which no service was seen writing`);
      else
        plan(reader).comments.push(
          `reads ${table.table}, written by ${[...table.writers].sort().join(', ')}`,
        );
    }
  }
  return render(
    observations,
    [...plans.values()].sort((a, b) => a.name.localeCompare(b.name)),
    shared,
  );
}

/** Tables seen, with the services writing and reading each. */
function factsOf(observations: TrafficObservations): Map<string, TableFacts> {
  const tables = new Map<string, TableFacts>();
  for (const access of observations.accesses) {
    let facts = tables.get(access.table);
    if (facts === undefined) {
      const dot = access.table.indexOf('.');
      facts = {
        table: access.table,
        schema: access.table.slice(0, dot),
        name: access.table.slice(dot + 1),
        writers: new Set(),
        readers: new Set(),
      };
      tables.set(access.table, facts);
    }
    (access.access === 'write' ? facts.writers : facts.readers).add(access.service);
  }
  return new Map([...tables].sort(([a], [b]) => a.localeCompare(b)));
}

/** Picks the service's schema (its own name when it owns a table there, else the most used) and fills `owns`. */
function placeOwnedTables(plan: ServicePlan, tables: readonly TableFacts[]): void {
  const counts = new Map<string, number>();
  for (const table of tables) counts.set(table.schema, (counts.get(table.schema) ?? 0) + 1);
  const ranked = [...counts].sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  plan.schema = counts.has(plan.name) ? plan.name : (ranked[0]?.[0] ?? plan.name);
  for (const table of tables) {
    if (table.schema === plan.schema) plan.owns.push(scalar(table.name));
    else
      plan.comments.push(
        `alone writes ${table.table}, outside its schema ${plan.schema}: move it, or declare it`,
      );
  }
}

function render(
  observations: TrafficObservations,
  plans: readonly ServicePlan[],
  shared: readonly string[],
): string {
  const { statements } = observations;
  const lines = [
    `# Proposed by converge ownership infer from ${observations.source === 'log' ? 'a PostgreSQL log' : 'pg_stat_statements'} on ${observations.database}.`,
    `# ${statements.total} statement(s): ${statements.parsed} parsed, ${statements.unparsable} could not be parsed, ${statements.ignored} of ignored roles.`,
    '# Review it: traffic shows what services do, not what they should do. Then: converge ownership check -f converge.yaml',
    'version: 1',
    plans.length === 0 ? 'services: {}' : 'services:',
  ];
  for (const plan of plans) {
    lines.push(`  ${scalar(plan.name)}:`);
    lines.push(`    database: \${${envName(plan.name)}_DATABASE_URL}`);
    if (plan.schema !== plan.name) lines.push(`    schema: ${scalar(plan.schema)}`);
    lines.push(`    owns: [${plan.owns.sort().join(', ')}]`);
    if (plan.reads.length > 0) lines.push(`    reads: [${[...new Set(plan.reads)].sort().join(', ')}]`);
    for (const comment of plan.comments.sort()) lines.push(`    # ${plan.name} ${comment}`);
  }
  if (shared.length > 0) lines.push('# Written by more than one service:', ...shared);
  return `${lines.join('\n')}\n`;
}

function only(set: ReadonlySet<string>): string {
  return [...set][0] as string;
}

/** A YAML scalar for a name: plain when it is an identifier, else double-quoted. */
function scalar(name: string): string {
  return IDENTIFIER_PATTERN.test(name) ? name : JSON.stringify(name);
}

function envName(service: string): string {
  return service.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}
