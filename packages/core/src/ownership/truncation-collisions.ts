/**
 * PostgreSQL keeps only the first 63 bytes of a name, silently: two long names that differ only
 * after that become one table, one schema or one role. This finds such pairs among the services,
 * the schemas and the tables of a manifest (each namespace on its own), so that both can be named
 * in one problem, besides the `IDENTIFIER_TOO_LONG` each name gets.
 */
import { showName, truncateIdentifier } from './identifiers.js';
import type { Manifest } from './manifest.js';
import type { ManifestProblemCode } from './manifest-problem.js';

type Report = (code: ManifestProblemCode, path: string, message: string, remedy: string) => void;

/** Reports each name that becomes the same as an earlier, different name once truncated. */
export function findTruncationCollisions(manifest: Manifest, report: Report): void {
  const services = manifest.services.map((service) => ({
    name: service.name,
    path: `services.${service.name}`,
  }));
  const schemas = manifest.services.map((service) => ({
    name: service.schema,
    path: `services.${service.name}.schema`,
  }));
  const tables = [
    ...manifest.services.flatMap((service) =>
      service.owns.map((table, index) => ({ name: table, path: `services.${service.name}.owns[${index}]` })),
    ),
    ...manifest.shared.map((shared) => ({ name: shared.table, path: `shared.${shared.table}` })),
  ];
  for (const [what, names] of [
    ['service names', services],
    ['schemas', schemas],
    ['tables', tables],
  ] as const) {
    const seen = new Map<string, string>();
    for (const { name, path } of names) {
      const kept = truncateIdentifier(name);
      const earlier = seen.get(kept);
      if (earlier === undefined) seen.set(kept, name);
      else if (earlier !== name) {
        report(
          'IDENTIFIER_TRUNCATION_COLLISION',
          path,
          `The ${what} ${showName(name)} and ${showName(earlier)} are the same name ${showName(kept)} once PostgreSQL keeps their first 63 bytes.`,
          'Shorten them so that they differ within their first 63 bytes.',
        );
      }
    }
  }
}
