/**
 * The value store: a composed Secret in the composite's namespace, owned by the composite, with
 * one key per version. Managed resources reference its keys, so the value never appears in a
 * managed resource's spec. Its annotations carry the version and rotation time, so the state
 * survives a lost composite status.
 */
import { parseTime } from './duration.js';
import {
  ANNOTATION_FAILED_AT,
  ANNOTATION_FAILED_FINGERPRINT,
  ANNOTATION_FAILED_VERSION,
  ANNOTATION_NEXT_VERSION,
  ANNOTATION_ROTATED_AT,
  ANNOTATION_STARTED_AT,
  ANNOTATION_TOKEN,
  ANNOTATION_VERSION,
  labels,
  versionKey,
  versionOfKey,
} from './names.js';
import { get, getString, isObj, type Obj } from './observe.js';
import { BASE64 } from './value.js';

export interface StoredValue {
  /** The committed version: every target holds it when no rotation is in progress. */
  version: number;
  /** Value of each stored version. */
  values: Map<number, Buffer>;
  /** When the committed version was first stored (RFC 3339). */
  rotatedAt: string;
  /** The last manual rotation token consumed; the same token never starts a second rotation. */
  token: string;
  /** The rotation in progress, if any. */
  rotation?: { to: number; startedAt: string };
  /** The last rotation that failed and was rolled back, if any. */
  failed?: { version: number; at: string; fingerprint?: string };
}

export type StoreRead =
  { kind: 'absent' } | { kind: 'ok'; store: StoredValue } | { kind: 'invalid'; reason: string };

/**
 * Reads the observed store. A store that exists but cannot be read is reported, never replaced:
 * generating afresh would silently split the targets from what consumers already hold.
 */
export function readStore(observed: unknown): StoreRead {
  if (observed === undefined) return { kind: 'absent' };
  if (get(observed, 'apiVersion') !== 'v1' || get(observed, 'kind') !== 'Secret') {
    return { kind: 'invalid', reason: 'it is not a v1 Secret' };
  }
  const raw = getString(observed, 'metadata', 'annotations', ANNOTATION_VERSION);
  const version = positive(raw ?? '');
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
  const note = (name: string) => getString(observed, 'metadata', 'annotations', name) ?? '';
  const store: StoredValue = {
    version,
    values,
    rotatedAt: note(ANNOTATION_ROTATED_AT),
    token: note(ANNOTATION_TOKEN),
  };
  const next = positive(note(ANNOTATION_NEXT_VERSION));
  if (note(ANNOTATION_NEXT_VERSION) !== '') {
    const startedAt = note(ANNOTATION_STARTED_AT);
    if (next === undefined || next <= version || !values.has(next)) {
      return {
        kind: 'invalid',
        reason: `annotation ${ANNOTATION_NEXT_VERSION} names no stored version`,
      };
    }
    if (parseTime(startedAt) === undefined) {
      return {
        kind: 'invalid',
        reason: `annotation ${ANNOTATION_STARTED_AT} is missing or invalid`,
      };
    }
    store.rotation = { to: next, startedAt };
  }
  const failedVersion = positive(note(ANNOTATION_FAILED_VERSION));
  const failedAt = note(ANNOTATION_FAILED_AT);
  if (failedVersion !== undefined && parseTime(failedAt) !== undefined) {
    const fp = note(ANNOTATION_FAILED_FINGERPRINT);
    store.failed = {
      version: failedVersion,
      at: failedAt,
      ...(/^[0-9a-f]{64}$/.test(fp) ? { fingerprint: fp } : {}),
    };
  }
  return { kind: 'ok', store };
}

function positive(text: string): number | undefined {
  return /^[1-9][0-9]{0,8}$/.test(text) ? Number(text) : undefined;
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
  const st = p.store;
  const annotations: Record<string, string> = { [ANNOTATION_VERSION]: String(st.version) };
  if (st.rotatedAt !== '') annotations[ANNOTATION_ROTATED_AT] = st.rotatedAt;
  if (st.token !== '') annotations[ANNOTATION_TOKEN] = st.token;
  if (st.rotation !== undefined) {
    annotations[ANNOTATION_NEXT_VERSION] = String(st.rotation.to);
    annotations[ANNOTATION_STARTED_AT] = st.rotation.startedAt;
  }
  if (st.failed !== undefined) {
    annotations[ANNOTATION_FAILED_VERSION] = String(st.failed.version);
    annotations[ANNOTATION_FAILED_AT] = st.failed.at;
    if (st.failed.fingerprint !== undefined) {
      annotations[ANNOTATION_FAILED_FINGERPRINT] = st.failed.fingerprint;
    }
  }
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
