/**
 * What the API reads from the master it is served by, and how it asks the master to act. The
 * server may run in a worker thread (so that a long plan never stalls a request): everything here
 * is plain data or a message, never the master's objects themselves.
 */
import type { Desired } from '../model/desired.ts';
import type { Observed } from '../model/observed.ts';
import type { DriftItem } from '../plan/drift.ts';
import type { StoreLocation } from '../store/backend.ts';
import type { JobRecord, StoreView } from '../store/types.ts';
import type { Outcome } from './actions.ts';
import type { ReadViews } from './views.ts';

/**
 * The master's latest round (the manifests in force, what it observed, its plan as `plan --json`
 * prints it, the drift it found) and its store then.
 */
export interface Look {
  readonly desired: Desired;
  readonly observed: Observed;
  /** As `plan --json` prints it (cli/render/plan.ts planJson: one way to show a plan). */
  readonly plan: object;
  readonly drift: readonly Omit<DriftItem, 'op'>[];
  readonly store: StoreView & { readonly jobs: ReadonlyMap<string, JobRecord> };
}


/** An operator's request, as the master carries it out (src/api/actions.ts). */
export type ActionRequest =
  | { readonly kind: 'reconcile'; readonly by: string }
  | { readonly kind: 'drain' | 'undrain'; readonly node: string; readonly by: string }
  | { readonly kind: 'migrate' | 'failover'; readonly instance: string; readonly by: string }
  | { readonly kind: 'break-lease'; readonly by: string };

export interface ApiMaster {
  /** What the read routes serve (api/views.ts); undefined until the first round has observed the nodes. */
  readonly views: () => ReadViews | undefined;
  /** The journal. */
  readonly jobs: () => Iterable<JobRecord>;
  readonly hub: EventHub;
  readonly act: (r: ActionRequest) => Promise<Outcome>;
  /** Where the lease is (GET /api/lease reads it). */
  readonly location: StoreLocation;
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
}
