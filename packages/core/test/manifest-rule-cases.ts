// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is the manifest's own syntax for environment variables.
/** Manifests of sound shape that break one rule each, with the change that makes them sound again. */
import { type Draft, type DraftService, service, shared } from './manifest-fixtures.js';

/** A mutation that breaks one rule (the shape stays sound), the code, and a mutation that fixes it. */
export interface RuleCase {
  readonly name: string;
  readonly code: string;
  readonly path: string;
  readonly fail: (draft: Draft) => void;
  readonly pass: (draft: Draft) => void;
}

const addOwn = (d: Draft, name: string, table: string) => void service(d, name).owns?.push(table);

export const RULE_CASES: readonly RuleCase[] = [
  {
    name: 'a table claimed by two owners',
    code: 'TABLE_CLAIMED_BY_TWO_OWNERS',
    path: 'services.support_contract.owns[1]',
    fail: (d) => addOwn(d, 'support_contract', 'customer'),
    pass: (d) => {
      addOwn(d, 'support_contract', 'customer_history');
    },
  },
  {
    name: 'a shared table also claimed by another service',
    code: 'TABLE_CLAIMED_BY_TWO_OWNERS',
    path: 'services.ticketing.owns[1]',
    fail: (d) => addOwn(d, 'ticketing', 'audit_log'),
    pass: () => {},
  },
  {
    name: 'a table written by a non-owner without a shared declaration',
    code: 'TABLE_WRITTEN_BY_SEVERAL',
    path: 'services.billing_payment.writes[0]',
    fail: (d) => {
      service(d, 'billing_payment').writes = ['contract'];
    },
    pass: (d) => {
      service(d, 'billing_payment').writes = ['contract'];
      d.shared.contract = {
        ownership: 'joint',
        technique: 'data-domain',
        schema: 'contract_domain',
        services: ['billing_payment', 'support_contract'],
      };
      service(d, 'support_contract').owns = [];
      (d.services.customer_profile as DraftService).reads = [];
    },
  },
  {
    name: 'a common writer that writes the table directly',
    code: 'SHARED_TABLE_WRITTEN_DIRECTLY',
    path: 'services.customer_profile.writes[0]',
    fail: (d) => {
      service(d, 'customer_profile').writes = ['audit_log'];
    },
    pass: (d) => {
      service(d, 'customer_profile').writes = [];
    },
  },
  {
    name: 'a data-domain table written by a service it does not list',
    code: 'SHARED_TABLE_WRITTEN_DIRECTLY',
    path: 'services.wishlist.writes[0]',
    fail: (d) => {
      service(d, 'wishlist').writes = ['product_price'];
    },
    pass: (d) => {
      service(d, 'wishlist').writes = ['product_price'];
      shared(d, 'product_price').services = ['catalog', 'inventory', 'wishlist'];
    },
  },
  {
    name: 'a write to a part of a split table by the other part’s owner',
    code: 'SHARED_TABLE_WRITTEN_DIRECTLY',
    path: 'services.catalog.writes[0]',
    fail: (d) => {
      service(d, 'catalog').writes = ['product_inventory'];
    },
    pass: (d) => {
      service(d, 'catalog').reads = ['inventory.product_inventory'];
    },
  },
  {
    name: 'a write to a table no one owns',
    code: 'UNKNOWN_TABLE',
    path: 'services.wishlist.writes[0]',
    fail: (d) => {
      service(d, 'wishlist').writes = ['nowhere'];
    },
    pass: (d) => {
      service(d, 'wishlist').writes = [];
    },
  },
  {
    name: 'a table in both owns and writes',
    code: 'DUPLICATE_ENTRY',
    path: 'services.audit.writes[0]',
    fail: (d) => {
      service(d, 'audit').writes = ['audit_log'];
    },
    pass: (d) => {
      service(d, 'audit').writes = [];
    },
  },
  {
    name: 'a common owner that is not a service',
    code: 'UNKNOWN_SERVICE',
    path: 'shared.audit_log.owner',
    fail: (d) => {
      shared(d, 'audit_log').owner = 'audits';
    },
    pass: (d) => {
      shared(d, 'audit_log').owner = 'audit';
    },
  },
  {
    name: 'a common owner that does not own the table',
    code: 'OWNER_DOES_NOT_OWN',
    path: 'shared.audit_log.owner',
    fail: (d) => {
      service(d, 'audit').owns = [];
    },
    pass: (d) => {
      service(d, 'audit').owns = ['audit_log'];
    },
  },
  {
    name: 'a common writer that is not a service',
    code: 'UNKNOWN_SERVICE',
    path: 'shared.audit_log.writers[3]',
    fail: (d) => void (shared(d, 'audit_log').writers as string[]).push('billing'),
    pass: (d) => void (shared(d, 'audit_log').writers as string[]).push('ticketing'),
  },
  {
    name: 'a common writer that still owns the table',
    code: 'DELEGATE_STILL_OWNS',
    path: 'services.support_contract.owns[1]',
    fail: (d) => addOwn(d, 'support_contract', 'audit_log'),
    pass: () => {},
  },
  {
    name: 'a delegate owner that is not a service',
    code: 'UNKNOWN_SERVICE',
    path: 'shared.survey.owner',
    fail: (d) => {
      shared(d, 'survey').owner = 'surveys';
    },
    pass: (d) => {
      shared(d, 'survey').owner = 'survey';
    },
  },
  {
    name: 'a delegating service that still writes the table directly (in its owns)',
    code: 'DELEGATE_STILL_OWNS',
    path: 'services.customer_survey.owns[0]',
    fail: (d) => addOwn(d, 'customer_survey', 'survey'),
    pass: (d) => addOwn(d, 'customer_survey', 'survey_invitation'),
  },
  {
    name: 'a delegating service that writes the table directly (in its writes)',
    code: 'SHARED_TABLE_WRITTEN_DIRECTLY',
    path: 'services.customer_survey.writes[0]',
    fail: (d) => {
      service(d, 'customer_survey').writes = ['survey'];
    },
    pass: (d) => {
      service(d, 'customer_survey').reads = ['survey.survey'];
    },
  },
  {
    name: 'a delegate owner listed among its delegates',
    code: 'OWNER_LISTED_AS_DELEGATE',
    path: 'shared.survey.delegates[1]',
    fail: (d) => void (shared(d, 'survey').delegates as string[]).push('survey'),
    pass: () => {},
  },
  {
    name: 'a delegating service that is not a service',
    code: 'UNKNOWN_SERVICE',
    path: 'shared.survey.delegates[0]',
    fail: (d) => {
      shared(d, 'survey').delegates = ['customer_surveys'];
    },
    pass: (d) => {
      shared(d, 'survey').delegates = ['customer_survey'];
    },
  },
  {
    name: 'a data-domain table owned by one service',
    code: 'DATA_DOMAIN_TABLE_OWNED',
    path: 'services.catalog.owns[1]',
    fail: (d) => addOwn(d, 'catalog', 'product_price'),
    pass: () => {},
  },
  {
    name: 'a data-domain service that is not a service',
    code: 'UNKNOWN_SERVICE',
    path: 'shared.product_price.services[1]',
    fail: (d) => {
      shared(d, 'product_price').services = ['catalog', 'inventroy'];
    },
    pass: () => {},
  },
  {
    name: 'a table-split part its service does not own',
    code: 'TABLE_SPLIT_PART_NOT_OWNED',
    path: 'shared.product.parts.product_inventory',
    fail: (d) => {
      service(d, 'inventory').owns = [];
    },
    pass: () => {},
  },
  {
    name: 'a table-split part also owned by another service',
    code: 'TABLE_SPLIT_PART_NOT_OWNED',
    path: 'services.inventory.owns[1]',
    fail: (d) => addOwn(d, 'inventory', 'product'),
    pass: (d) => {
      service(d, 'inventory').reads = ['catalog.product'];
    },
  },
  {
    name: 'a split table owned whole by a service',
    code: 'TABLE_CLAIMED_BY_TWO_OWNERS',
    path: 'services.catalog.owns[0]',
    fail: (d) => {
      shared(d, 'product').parts = { product_details: 'catalog', product_inventory: 'inventory' };
    },
    pass: (d) => {
      shared(d, 'product').parts = { product_details: 'catalog', product_inventory: 'inventory' };
      service(d, 'catalog').owns = ['product_details'];
      service(d, 'wishlist').reads = ['catalog.product_details'];
    },
  },
  {
    name: 'a part owner that is not a service',
    code: 'UNKNOWN_SERVICE',
    path: 'shared.product.parts.product',
    fail: (d) => {
      shared(d, 'product').parts = { product: 'catalogue', product_inventory: 'inventory' };
    },
    pass: () => {},
  },
  {
    name: 'a consolidated service still declared apart',
    code: 'CONSOLIDATED_SERVICE_STILL_APART',
    path: 'shared.ticket.from[1]',
    fail: (d) => {
      d.services.ticket_assignment = { database: '${TICKET_ASSIGNMENT_DATABASE_URL}' };
    },
    pass: () => {},
  },
  {
    name: 'a consolidation into a service that does not own the table',
    code: 'OWNER_DOES_NOT_OWN',
    path: 'shared.ticket.into',
    fail: (d) => {
      service(d, 'ticketing').owns = [];
    },
    pass: () => {},
  },
  {
    name: 'a consolidation into an unknown service',
    code: 'UNKNOWN_SERVICE',
    path: 'shared.ticket.into',
    fail: (d) => {
      shared(d, 'ticket').into = 'ticket_management';
    },
    pass: () => {},
  },
  {
    name: 'a read of an unknown service',
    code: 'UNKNOWN_SERVICE',
    path: 'services.wishlist.reads[1]',
    fail: (d) => void service(d, 'wishlist').reads?.push('catalogue.product'),
    pass: () => {},
  },
  {
    name: 'a read of a table the service does not own',
    code: 'UNKNOWN_TABLE',
    path: 'services.wishlist.reads[1]',
    fail: (d) => void service(d, 'wishlist').reads?.push('catalog.product_inventory'),
    pass: (d) => void service(d, 'wishlist').reads?.push('inventory.product_inventory'),
  },
  {
    name: 'a copy of an undeclared owner table',
    code: 'COPY_SOURCE_UNDECLARED',
    path: 'copies[0].of',
    fail: (d) => {
      (d.copies[0] ?? {}).of = 'customer_profile.customers';
    },
    pass: () => {},
  },
  {
    name: 'a copy of a table of an unknown service',
    code: 'UNKNOWN_SERVICE',
    path: 'copies[0].of',
    fail: (d) => {
      (d.copies[0] ?? {}).of = 'customer.customer';
    },
    pass: () => {},
  },
  {
    name: 'a copy in a table the copying service does not own',
    code: 'COPY_TARGET_INVALID',
    path: 'copies[0].in',
    fail: (d) => {
      service(d, 'billing_payment').owns = ['billing'];
    },
    pass: () => {},
  },
  {
    name: 'a copy kept by the owner itself',
    code: 'COPY_TARGET_INVALID',
    path: 'copies[0].in',
    fail: (d) => {
      (d.copies[0] ?? {}).in = 'customer_profile.customer';
    },
    pass: () => {},
  },
  {
    name: 'a password written in the file',
    code: 'DATABASE_PASSWORD_IN_FILE',
    path: 'services.support_contract.database',
    fail: (d) => {
      service(d, 'support_contract').database = 'postgres://support:hunter2@db/support';
    },
    pass: (d) => {
      service(d, 'support_contract').database = 'postgres://support:${SUPPORT_PASSWORD}@db/support';
    },
  },
  {
    name: 'a reserved word referenced as a service',
    code: 'UNKNOWN_SERVICE',
    path: 'shared.audit_log.owner',
    fail: (d) => {
      shared(d, 'audit_log').owner = 'user';
    },
    pass: () => {},
  },
];
