/**
 * What the API server and real providers report after applying desired resources: generation
 * bumps when the spec changes, conditions with observedGeneration, and new version evidence in
 * atProvider each time a provider writes. Failing resources report the platform's error.
 */
import { isDeepStrictEqual } from 'node:util';

import type { Obj } from '../src/observe.js';

export interface SimOptions {
  /** Composition-resource-names of resources whose provider fails, with the error it reports. */
  failing?: Map<string, string>;
}

function evidence(kind: string, apiVersion: string, token: string, spec: Obj | undefined): Obj {
  if (kind === 'SecretVersion') {
    return { versionId: `aws-${token}`, versionStages: ['AWSCURRENT'] };
  }
  if (apiVersion.startsWith('keyvault.')) return { version: `azure-${token}` };
  if (kind === 'SecretV2') return { metadata: { version: token } };
  if (kind === 'Object') return { manifest: (spec?.forProvider as Obj | undefined)?.manifest };
  return {};
}

const generation = (o: Obj | undefined): number =>
  Number((o?.metadata as Obj | undefined)?.generation ?? 0);

/** One observed object from its desired form and what was observed before (if anything). */
export function observeOne(
  key: string,
  desired: Obj,
  before: Obj | undefined,
  opts: SimOptions = {},
): Obj {
  const o = structuredClone(desired);
  const meta = (o.metadata ?? {}) as Obj;
  const payload = o.apiVersion === 'v1' ? o.data : o.spec;
  const previous =
    before === undefined ? undefined : before.apiVersion === 'v1' ? before.data : before.spec;
  const changed = before === undefined || !isDeepStrictEqual(payload, previous);
  const gen = changed ? generation(before) + 1 : generation(before);
  o.metadata = { ...meta, generation: gen, resourceVersion: `rv-${key}-${gen}`, uid: `uid-${key}` };
  if (o.apiVersion === 'v1') return o;

  const error = opts.failing?.get(key);
  if (error !== undefined) {
    const status = (before?.status ?? {}) as Obj;
    o.status = {
      atProvider: status.atProvider ?? {},
      conditions: [
        { type: 'Ready', status: 'False', reason: 'Unavailable', observedGeneration: gen },
        {
          type: 'Synced',
          status: 'False',
          reason: 'ReconcileError',
          message: error,
          observedGeneration: gen,
        },
        { type: 'LastAsyncOperation', status: 'False', reason: 'ApplyFailure', message: error },
      ],
    };
    return o;
  }
  const previousAt = (before?.status as Obj | undefined)?.atProvider as Obj | undefined;
  const atProvider =
    !changed && previousAt !== undefined && Object.keys(previousAt).length > 0
      ? previousAt
      : evidence(String(o.kind), String(o.apiVersion), `${key}-g${gen}`, o.spec as Obj);
  o.status = {
    atProvider,
    conditions: [
      { type: 'Ready', status: 'True', reason: 'Available', observedGeneration: gen },
      { type: 'Synced', status: 'True', reason: 'ReconcileSuccess', observedGeneration: gen },
      { type: 'LastAsyncOperation', status: 'True', reason: 'Success' },
    ],
  };
  return o;
}

/** Applies a whole desired state over the previous observed one. */
export function reconcile(
  desired: Record<string, Obj>,
  before: Record<string, Obj>,
  opts: SimOptions = {},
): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  for (const [key, d] of Object.entries(desired)) out[key] = observeOne(key, d, before[key], opts);
  return out;
}
