/**
 * The value store: a composed Secret in the composite's namespace, owned by the composite, with
 * one key per version. Managed resources reference its keys, so the value never appears in a
 * managed resource's spec. Its annotations carry the version and rotation time, so the state
 * survives a lost composite status.
 */
import {
  ANNOTATION_ROTATED_AT,
  ANNOTATION_VERSION,
  labels,
  versionKey,
  versionOfKey,
} from './names.js';
import { get, getString, isObj, type Obj } from './observe.js';

export interface StoredValue {
  /** The version every target should hold. */
  version: number;
  /** Value of each stored version. */
  values: Map<number, Buffer>;
  /** When the current version was first stored (RFC 3339). */
  rotatedAt: string;
}

export type StoreRead =
  { kind: 'absent' } | { kind: 'ok'; store: StoredValue } | { kind: 'invalid'; reason: string };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Reads the observed store. A store that exists but cannot be read is reported, never replaced:
 * generating afresh would silently split the targets from what consumers already hold.
 */
export function readStore(observed: unknown): StoreRead {
  if (observed === undefined) return { kind: 'absent' };
  const raw = getString(observed, 'metadata', 'annotations', ANNOTATION_VERSION);
  const version = raw !== undefined && /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : undefined;
  if (version === undefined) {
    return { kind: 'invalid', reason: `annotation ${ANNOTATION_VERSION} is missing or invalid` };
  }
  const data = get(observed, 'data');
  const values = new Map<number, Buffer>();
  if (isObj(data)) {
    for (const [key, encoded] of Object.entries(data)) {
      const v = versionOfKey(key);
      if (v === undefined || key !== versionKey(v)) continue;
      if (typeof encoded !== 'string' || !BASE64.test(encoded)) {
        return { kind: 'invalid', reason: `key ${key} is not valid base64` };
      }
      values.set(v, Buffer.from(encoded, 'base64'));
    }
  }
  if (!values.has(version)) {
    return {
      kind: 'invalid',
      reason: `key ${versionKey(version)} of the current version is missing`,
    };
  }
  const rotatedAt = getString(observed, 'metadata', 'annotations', ANNOTATION_ROTATED_AT) ?? '';
  return { kind: 'ok', store: { version, values, rotatedAt } };
}

export interface StoreParams {
  name: string;
  namespace: string;
  store: StoredValue;
  /** Per-version keys derived for particular targets (for example Vault's JSON document). */
  derived: Record<string, Buffer>;
}

export function composeStore(p: StoreParams): Obj {
  const data: Record<string, string> = {};
  const versions = [...p.store.values.keys()].sort((a, b) => a - b);
  for (const v of versions) {
    const value = p.store.values.get(v);
    if (value !== undefined) data[versionKey(v)] = value.toString('base64');
  }
  for (const key of Object.keys(p.derived).sort()) {
    const value = p.derived[key];
    if (value !== undefined) data[key] = value.toString('base64');
  }
  const annotations: Record<string, string> = { [ANNOTATION_VERSION]: String(p.store.version) };
  if (p.store.rotatedAt !== '') annotations[ANNOTATION_ROTATED_AT] = p.store.rotatedAt;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      labels: labels(undefined, undefined, 'value-store'),
      annotations,
    },
    type: 'Opaque',
    data,
  };
}

/**
 * Bytes the store holds for one version, derived keys included. Kubernetes limits the sum of
 * the decoded data of a Secret, so base64 does not count.
 */
export function storeBytesPerVersion(value: Buffer, derivedForVersion: Buffer[]): number {
  return derivedForVersion.reduce((sum, d) => sum + d.length, value.length);
}
