/**
 * Which service a database role stands for. Converge's enforcement gives each service an owner
 * role (`<service>_owner`, migrations) and a runtime role (`<service>_runtime`, the application),
 * so by default a role is its service's name with a `_runtime` or `_owner` suffix removed —
 * `billing_payment_runtime` and `billing_payment` both map to `billing_payment`. When the
 * services are known (a manifest), a role that is itself a service name keeps it (a service called
 * `report_owner` stays `report_owner`). An explicit map (`--role-map role=service`) wins over both.
 */

/** The suffixes removed from a role name, in the order tried. */
export const ROLE_SUFFIXES: readonly string[] = Object.freeze(['_runtime', '_owner']);

/** Maps role names to service names. */
export type RoleMapping = (role: string) => string;

/** What `createRoleMapping` takes. */
export interface RoleMappingOptions {
  /** Role → service, used first. */
  readonly explicit?: ReadonlyMap<string, string>;
  /** The declared services, when a manifest is at hand. */
  readonly services?: readonly string[];
}

/**
 * The mapping described at the top of this file.
 *
 * @example createRoleMapping()('billing_payment_runtime') // 'billing_payment'
 */
export function createRoleMapping(options: RoleMappingOptions = {}): RoleMapping {
  const explicit = new Map(options.explicit ?? []);
  const services = new Set(options.services ?? []);
  return (role) => {
    const mapped = explicit.get(role);
    if (mapped !== undefined) return mapped;
    if (services.has(role)) return role;
    for (const suffix of ROLE_SUFFIXES) {
      if (role.endsWith(suffix) && role.length > suffix.length) return role.slice(0, -suffix.length);
    }
    return role;
  };
}
