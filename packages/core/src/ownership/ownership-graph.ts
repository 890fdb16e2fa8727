/**
 * Draws a manifest: services and the tables they own, shared tables with their ownership type
 * and technique, who may read what, and the copies services keep of each other's data — as a
 * Mermaid flowchart (renders in GitHub and most docs tools) or a Graphviz `dot` digraph.
 *
 * Names are validated identifiers (`^[a-z_][a-z0-9_]*$`) by the time a `Manifest` exists, so they
 * are safe as node ids; labels are quoted anyway.
 */
import type { Manifest, SharedTable, TableRef } from './manifest.js';

export type GraphFormat = 'mermaid' | 'dot';

type Edge = { readonly from: string; readonly to: string; readonly label: string; readonly style: EdgeStyle };
type EdgeStyle = 'owns' | 'writes' | 'reads' | 'copy' | 'delegates';
type Node = { readonly id: string; readonly label: string; readonly kind: 'service' | 'table' | 'shared' };

/** The manifest as a graph in `format`. */
export function ownershipGraph(manifest: Manifest, format: GraphFormat): string {
  const { nodes, edges } = graphOf(manifest);
  return format === 'mermaid' ? mermaid(nodes, edges) : dot(nodes, edges);
}

function graphOf(manifest: Manifest): { nodes: Node[]; edges: Edge[] } {
  const nodes = new Map<string, Node>();
  const edges: Edge[] = [];
  const service = (name: string) => {
    const id = `svc_${name}`;
    if (!nodes.has(id)) nodes.set(id, { id, label: name, kind: 'service' });
    return id;
  };
  const table = (owner: string, name: string, kind: Node['kind'] = 'table', label = name) => {
    const id = `tbl_${owner}__${name}`;
    if (!nodes.has(id)) nodes.set(id, { id, label, kind });
    return id;
  };
  const ref = ({ service: owner, table: name }: TableRef) => table(owner, name);
  for (const declared of manifest.services) {
    const id = service(declared.name);
    for (const name of declared.owns)
      edges.push({ from: id, to: table(declared.name, name), label: 'owns', style: 'owns' });
    for (const read of declared.reads)
      edges.push({ from: id, to: ref(read), label: 'reads', style: 'reads' });
  }
  for (const shared of manifest.shared) edges.push(...sharedEdges(shared, service, table));
  for (const copy of manifest.copies) {
    edges.push({
      from: ref(copy.of),
      to: ref(copy.in),
      label: `copy (key ${copy.key.join(', ')})`,
      style: 'copy',
    });
  }
  return { nodes: [...nodes.values()], edges };
}

function sharedEdges(
  shared: SharedTable,
  service: (name: string) => string,
  table: (owner: string, name: string, kind?: Node['kind'], label?: string) => string,
): Edge[] {
  const label = shared.ownership === 'common' ? 'common' : `joint: ${shared.technique}`;
  const node = table('shared', shared.table, 'shared', `${shared.table} (${label})`);
  if (shared.ownership === 'common') {
    return [
      { from: service(shared.owner), to: node, label: 'owns', style: 'owns' },
      ...shared.writers.map((writer) => ({
        from: service(writer),
        to: service(shared.owner),
        label: `messages for ${shared.table}`,
        style: 'writes' as const,
      })),
    ];
  }
  switch (shared.technique) {
    case 'table-split':
      return Object.entries(shared.parts).map(([part, owner]) => ({
        from: service(owner),
        to: node,
        label: `owns part ${part}`,
        style: 'owns' as const,
      }));
    case 'data-domain':
      return shared.services.map((name) => ({
        from: service(name),
        to: node,
        label: `writes (schema ${shared.schema})`,
        style: 'writes' as const,
      }));
    case 'delegate':
      return [
        { from: service(shared.owner), to: node, label: 'owns', style: 'owns' },
        ...shared.delegates.map((name) => ({
          from: service(name),
          to: service(shared.owner),
          label: `delegates writes of ${shared.table}`,
          style: 'delegates' as const,
        })),
      ];
    case 'consolidation':
      return [
        {
          from: service(shared.into),
          to: node,
          label: `owns (merged from ${shared.from.join(', ')})`,
          style: 'owns',
        },
      ];
  }
}

const quote = (text: string) => text.replaceAll('"', "'");

function mermaid(nodes: readonly Node[], edges: readonly Edge[]): string {
  const shape = (node: Node) =>
    node.kind === 'service' ? `${node.id}(["${quote(node.label)}"])` : `${node.id}[("${quote(node.label)}")]`;
  const arrow: Record<EdgeStyle, string> = {
    owns: '==>',
    writes: '-->',
    delegates: '-->',
    reads: '-.->',
    copy: '-.->',
  };
  return [
    'flowchart LR',
    ...nodes.map((node) => `  ${shape(node)}`),
    ...edges.map((edge) => `  ${edge.from} ${arrow[edge.style]}|"${quote(edge.label)}"| ${edge.to}`),
    '  classDef service fill:#e8f0fe,stroke:#1a73e8',
    '  classDef shared fill:#fef7e0,stroke:#f9ab00',
    ...nodes.filter((node) => node.kind !== 'table').map((node) => `  class ${node.id} ${node.kind}`),
    '',
  ].join('\n');
}

function dot(nodes: readonly Node[], edges: readonly Edge[]): string {
  const attributes = (node: Node) =>
    node.kind === 'service'
      ? 'shape=box, style="rounded,filled", fillcolor="#e8f0fe"'
      : node.kind === 'shared'
        ? 'shape=cylinder, style=filled, fillcolor="#fef7e0"'
        : 'shape=cylinder';
  const edgeStyle: Record<EdgeStyle, string> = {
    owns: 'penwidth=2',
    writes: 'style=solid',
    delegates: 'style=solid',
    reads: 'style=dashed',
    copy: 'style=dotted',
  };
  return [
    'digraph ownership {',
    '  rankdir=LR;',
    ...nodes.map((node) => `  ${node.id} [label="${quote(node.label)}", ${attributes(node)}];`),
    ...edges.map(
      (edge) => `  ${edge.from} -> ${edge.to} [label="${quote(edge.label)}", ${edgeStyle[edge.style]}];`,
    ),
    '}',
    '',
  ].join('\n');
}
