import { createHash } from 'node:crypto';

/** Labels on every composed resource, so an operator can find and trust what is ours. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'function-cross-platform-secret';
export const LABEL_TARGET = 'secrets.crossplatform.io/target';
export const LABEL_PLATFORM = 'secrets.crossplatform.io/platform';
export const LABEL_ROLE = 'secrets.crossplatform.io/role';

export const ANNOTATION_VERSION = 'secrets.crossplatform.io/version';
export const ANNOTATION_ROTATED_AT = 'secrets.crossplatform.io/rotated-at';
export const ANNOTATION_TOKEN = 'secrets.crossplatform.io/rotation-token';
export const ANNOTATION_NEXT_VERSION = 'secrets.crossplatform.io/next-version';
export const ANNOTATION_STARTED_AT = 'secrets.crossplatform.io/rotation-started-at';
export const ANNOTATION_FAILED_VERSION = 'secrets.crossplatform.io/failed-version';
export const ANNOTATION_FAILED_AT = 'secrets.crossplatform.io/failed-at';
/** SHA-256 of a fromSecret value whose rotation failed: kept beside the values in the store. */
export const ANNOTATION_FAILED_FINGERPRINT = 'secrets.crossplatform.io/failed-sha256';

/** On the composite: "true" accepts a new value when the store is lost but targets hold one. */
export const ANNOTATION_REGENERATE = 'secrets.crossplatform.io/regenerate';

/** On the composite: a new value (any token) asks for one rotation. */
export const ANNOTATION_ROTATE = 'secrets.crossplatform.io/rotate';

/** On a managed resource: changed when live verification finds drift, to make it reconcile. */
export const ANNOTATION_HEAL = 'secrets.crossplatform.io/heal';

/** The composition-resource-name of the value store. */
export const STORE_KEY = 'store';

const MAX_NAME = 253;

/**
 * Kubernetes names are at most 253 characters; a longer one keeps a readable head and gains a
 * hash of the whole so two long names stay distinct.
 */
function fit(name: string): string {
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  const head = name.slice(0, MAX_NAME - hash.length - 1).replace(/[^a-z0-9]+$/, '');
  return `${head}-${hash}`;
}

/**
 * Target names are DNS labels (no dots), so "<composite>.<target>" cannot be produced by any
 * other composite/target pair in the namespace: one composite can never overwrite another's.
 */
export function targetResourceName(composite: string, target: string): string {
  return fit(`${composite}.${target}`);
}

/** Target names have no dot, so no managed resource name ends like this; Kubernetes targets
 * are refused names that do. */
export const STORE_SUFFIX = '.value-store';

export function storeName(composite: string): string {
  return fit(`${composite}${STORE_SUFFIX}`);
}

export function versionKey(version: number): string {
  return `v${String(version)}`;
}

/** The base64 text of a version's bytes, for binary values (AWS secretBinary, Base64 targets). */
export function base64Key(version: number): string {
  return `${versionKey(version)}.base64`;
}

/** Parses "v3" (and "v3.<anything>") back to 3; anything else is not one of our keys. */
export function versionOfKey(key: string | undefined): number | undefined {
  const m = /^v([1-9][0-9]{0,8})(?:\.|$)/.exec(key ?? '');
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

export function labels(target?: string, platform?: string, role?: string): Record<string, string> {
  const out: Record<string, string> = { [LABEL_MANAGED_BY]: MANAGED_BY };
  if (platform !== undefined) out[LABEL_PLATFORM] = platform;
  if (role !== undefined) out[LABEL_ROLE] = role;
  if (target !== undefined) out[LABEL_TARGET] = target;
  return out;
}
