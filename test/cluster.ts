/**
 * A small stand-in for Crossplane's reconcile loop: call the function with the observed state,
 * apply the composite status it returns, and let the simulated providers apply the desired
 * resources. Each `reconcile` is one call at a given time.
 */
import type { RunFunctionResponse } from '@crossplane-org/function-sdk-typescript';

import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { desiredObjects, request, testDeps, type TestDeps } from './helpers.js';
import { reconcile, type SimOptions } from './provider-sim.js';

export class Cluster {
  xr: Obj;
  observed: Record<string, Obj> = {};
  last?: RunFunctionResponse;
  deps: TestDeps;
  required?: Record<string, Obj[]>;

  constructor(xr: Obj, seed = 1) {
    this.xr = structuredClone(xr);
    this.deps = testDeps(seed);
  }

  /** One function call at `now`; providers then apply what it asked for unless `apply` is false. */
  reconcile(now: Date, opts: SimOptions & { apply?: boolean } = {}): RunFunctionResponse {
    this.deps.now = () => now;
    const rsp = runFunction(
      request(this.xr, { observed: this.observed, required: this.required }),
      this.deps,
    );
    this.last = rsp;
    const composite: Obj | undefined = rsp.desired?.composite?.resource;
    const status = composite?.status;
    if (status !== undefined) this.xr = { ...this.xr, status };
    if (opts.apply !== false && rsp.desired?.resources !== undefined) {
      const desired = desiredObjects(rsp);
      if (Object.keys(desired).length > 0) this.observed = reconcile(desired, this.observed, opts);
    }
    return rsp;
  }

  annotate(key: string, value: string): void {
    const meta = (this.xr.metadata ?? {}) as Obj;
    const annotations = { ...((meta.annotations ?? {}) as Record<string, string>), [key]: value };
    this.xr = { ...this.xr, metadata: { ...meta, annotations } };
  }

  forgetStatus(): void {
    const rest = { ...this.xr };
    delete rest.status;
    this.xr = rest;
  }

  status(): {
    version: number;
    rotation: { phase: string; version: number; reason: string; nextRotationAt?: string };
    store: { versions: number[] };
    targets: { name: string; desiredVersion: number; heldVersion: number; ready: boolean }[];
  } {
    return this.xr.status as never;
  }

  /** The version key each target's value-holding resource references in the last response. */
  pointedAt(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, r] of Object.entries(desiredObjects(this.last ?? ({} as never)))) {
      if (key === 'store') continue;
      const fp = ((r.spec as Obj | undefined)?.forProvider ?? {}) as Record<
        string,
        { key?: string }
      >;
      const ref = fp.secretStringSecretRef ?? fp.valueSecretRef ?? fp.dataJsonSecretRef;
      if (ref?.key !== undefined) out[key] = ref.key;
    }
    return out;
  }

  storeData(): Record<string, string> {
    const store = desiredObjects(this.last ?? ({} as never)).store;
    return (store?.data ?? {}) as Record<string, string>;
  }
}

export const at = (iso: string): Date => new Date(iso);

export function plus(d: Date, ms: number): Date {
  return new Date(d.getTime() + ms);
}

export const HOUR = 3_600_000;
export const MINUTE = 60_000;
