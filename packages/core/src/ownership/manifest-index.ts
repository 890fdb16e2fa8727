/**
 * What the manifest's checks look up: services by name, who owns each table, and where each
 * declaration is in the file (the paths `parseManifest` reports, such as `services.billing.owns[2]`).
 */
import { didYouMean } from './closest-name.js';
import type { Manifest, ServiceDeclaration, SharedTable } from './manifest.js';
import type { ManifestProblem, ManifestProblemCode, SourcePosition } from './manifest-problem.js';

/** A table in a service's `owns`, and where. */
export interface Claim {
  readonly service: string;
  readonly path: string;
}

/** The lookups of one check run, and the problems it found. */
export interface ManifestIndex {
  readonly manifest: Manifest;
  readonly services: ReadonlyMap<string, ServiceDeclaration>;
  /** Table → the services that list it in `owns`, in file order. */
  readonly claims: ReadonlyMap<string, readonly Claim[]>;
  readonly shared: ReadonlyMap<string, SharedTable>;
  readonly problems: ManifestProblem[];
  report(code: ManifestProblemCode, path: string, message: string, remedy: string): void;
  /** Whether `service` lists `table` in `owns`. */
  owns(service: string, table: string): boolean;
  /** Reports `UNKNOWN_SERVICE` when `name` is not a declared service; returns whether it is one. */
  knownService(name: string, path: string, role: string): boolean;
}

/** Options of `checkManifest`. */
export interface CheckManifestOptions {
  /** The file name to put in each problem. Default: `converge.yaml`. */
  readonly file?: string;
  /** The position of a path in the file; without it every problem is at line 0, column 0. */
  readonly locate?: (path: string) => SourcePosition;
}

export function indexManifest(manifest: Manifest, options: CheckManifestOptions): ManifestIndex {
  const file = options.file ?? 'converge.yaml';
  const locate = options.locate ?? (() => ({ line: 0, column: 0 }));
  const services = new Map(manifest.services.map((service) => [service.name, service]));
  const claims = new Map<string, Claim[]>();
  for (const service of manifest.services) {
    service.owns.forEach((table, index) => {
      const list = claims.get(table) ?? [];
      list.push({ service: service.name, path: `services.${service.name}.owns[${index}]` });
      claims.set(table, list);
    });
  }
  const problems: ManifestProblem[] = [];
  const index: ManifestIndex = {
    manifest,
    services,
    claims,
    shared: new Map(manifest.shared.map((table) => [table.table, table])),
    problems,
    report: (code, path, message, remedy) =>
      problems.push({ code, file, path, ...locate(path), message, remedy }),
    owns: (service, table) => services.get(service)?.owns.includes(table) === true,
    knownService(name, path, role) {
      if (services.has(name)) return true;
      index.report(
        'UNKNOWN_SERVICE',
        path,
        `'${name}' (${role}) is not a service of this manifest.`,
        `Declare it under services:, or name a declared service.${didYouMean(name, services.keys())}`,
      );
      return false;
    },
  };
  return index;
}
