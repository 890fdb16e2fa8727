/**
 * The chaos's one outage of Billing Payment's payment gateway: the gateway is down while a marker
 * file exists. It goes down once the workload is `startAt` done and comes back `outageMs` later.
 */
import { rmSync, writeFileSync } from 'node:fs';

export class GatewayOutage {
  readonly #downFile: string;
  readonly #outageMs: number;
  #state: 'before' | 'during' | 'over' = 'before';
  #endsAt = 0;
  /** When the gateway came back up; 0 before. */
  endedAt = 0;

  constructor(downFile: string, outageMs: number) {
    this.#downFile = downFile;
    this.#outageMs = outageMs;
  }

  get over(): boolean {
    return this.#state === 'over';
  }

  /** How many outages there were (0 or 1). */
  get count(): number {
    return this.#state === 'before' ? 0 : 1;
  }

  /** Takes the gateway down once `progress` reaches `startAt`, and up again when its time is over. */
  tick(progress: number, startAt = 0.3): void {
    if (this.#state === 'before' && progress >= startAt) {
      writeFileSync(this.#downFile, 'the payment gateway is down\n');
      this.#state = 'during';
      this.#endsAt = Date.now() + this.#outageMs;
    } else if (this.#state === 'during' && Date.now() >= this.#endsAt) {
      rmSync(this.#downFile, { force: true });
      this.#state = 'over';
      this.endedAt = Date.now();
    }
  }

  /** Brings the gateway back if it is still down (the chaos ran out of time). */
  end(): void {
    if (this.#state === 'during') rmSync(this.#downFile, { force: true });
  }
}
