/**
 * The Sysops Squad reference system: the book's Customer Profile, Support Contract, Billing
 * Payment and Audit services (see `services/`), and the chaos demo that runs them (`runDemo`,
 * behind `converge demo`).
 */

export { type DemoReport, REPORT_SCHEMA_VERSION, renderReport } from './demo/report.js';
export {
  DEMO_PATTERNS,
  type DemoOptions,
  type DemoPattern,
  type DemoProgress,
  removeDemoDir,
  runDemo,
} from './demo/run-demo.js';
