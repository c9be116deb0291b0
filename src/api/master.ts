/** What the API reads from the master it is served by, and the fan-out of its events. */
import type { Desired } from '../model/desired.ts';
import type { Observed } from '../model/observed.ts';
import type { Plan } from '../plan/types.ts';
import type { StoreLocation } from '../store/backend.ts';
import type { LeaseHolder } from '../store/lease.ts';
import type { Store } from '../store/store.ts';

/** The master's latest round: the manifests in force, what it observed, what it planned. */
export interface Look {
  readonly desired: Desired;
  readonly observed: Observed;
  readonly plan: Plan;
}

export interface ApiMaster {
  /** The store the master works on (its own, in memory: never a stale copy). */
  readonly store: () => Store;
  /** Undefined until the first round has observed the nodes. */
  readonly look: () => Look | undefined;
  readonly hub: EventHub;
  /** A converging master (watch): ask for a run now. Absent on `drover serve`, which only reads. */
  readonly reconcile?: (trigger: string) => void;
  /** Where the lease is, and who this process is (it never breaks its own lease). */
  readonly location: StoreLocation;
  readonly lease?: () => LeaseHolder | undefined;
  /** The plan as `plan --json` prints it (the CLI's renderer: one way to show a plan). */
  readonly renderPlan: (p: Plan) => object;
}

/** One server-sent event: its name (apply, watch, look, journal) and JSON data. */
export interface HubEvent {
  readonly event: string;
  readonly data: unknown;
}

/** Fan-out to the live streams; a subscriber that throws is dropped, never the publisher. */
export class EventHub {
  private readonly subs = new Set<(e: HubEvent) => void>();

  publish(event: string, data: unknown): void {
    for (const s of [...this.subs]) {
      try { s({ event, data }); } catch { this.subs.delete(s); }
    }
  }

  subscribe(fn: (e: HubEvent) => void): () => void {
    this.subs.add(fn);
    return () => void this.subs.delete(fn);
  }

  get size(): number { return this.subs.size; }
}
