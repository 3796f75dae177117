/**
 * What happens to composed resources across spec changes: a change of what identifies an
 * external secret is refused (the provider would replace, that is delete, the secret), and a
 * managed resource that leaves the composition under the Orphan policy first loses its Delete
 * policy, so that Crossplane deleting it never deletes the external secret.
 */
import { LABEL_MANAGED_BY, MANAGED_BY } from './names.js';
import { get, getString, type Obj } from './observe.js';
import { deletes } from './policies.js';
import type { Composed } from './targets/target.js';

/** Equal as JSON, whatever the key order or the objects' prototypes (decoded protobuf has none). */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, canonical(o[k])]),
  );
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function show(v: unknown): string {
  const text = v === undefined ? 'unset' : JSON.stringify(v);
  return text.length <= 120 ? text : `${text.slice(0, 117)}...`;
}

export function identityChanges(
  path: string,
  composed: Composed,
  observed: Obj | undefined,
): string[] {
  if (observed === undefined) return [];
  for (const field of composed.identity) {
    const before = get(observed, ...field);
    const after = get(composed.resource, ...field);
    if (before === undefined || same(before, after)) continue;
    return [
      `${path}: cannot change ${field.join('.')} of ${String(composed.resource.kind)} ` +
        `${getString(observed, 'metadata', 'name') ?? composed.key} from ${show(before)} to ` +
        `${show(after)}: the provider would replace the external secret; add a target with the ` +
        'new identity and remove this one (under deletion policy Orphan the old secret is kept)',
    ];
  }
  return [];
}

/** Managed resources only: a composed Kubernetes Secret has no management policies. */
function ours(o: Obj): boolean {
  return (
    getString(o, 'metadata', 'labels', LABEL_MANAGED_BY) === MANAGED_BY && o.apiVersion !== 'v1'
  );
}

/**
 * Observed managed resources that are no longer desired and would still delete their external
 * secret: re-emitted observe-only for one more reconcile, dropped once the provider holds that.
 */
export function retiring(
  desired: ReadonlySet<string>,
  observed: Readonly<Record<string, Obj>>,
  orphan: boolean,
): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  if (!orphan) return out;
  for (const [key, o] of Object.entries(observed)) {
    if (desired.has(key) || !ours(o) || !deletes(get(o, 'spec', 'managementPolicies'))) continue;
    const meta = (get(o, 'metadata') ?? {}) as Obj;
    out[key] = {
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: { name: meta.name, labels: meta.labels },
      spec: { ...((get(o, 'spec') ?? {}) as Obj), managementPolicies: ['Observe'] },
    };
  }
  return out;
}

/**
 * A desired resource that writes the same external secret as an observed one that is leaving
 * (a target renamed, say) would lose it: Crossplane deletes the leaving one, and with it the
 * secret, unless Orphan keeps it. A Secret composed directly is always deleted.
 */
export function takeovers(
  desired: { path: string; composed: Composed }[],
  observed: Readonly<Record<string, Obj>>,
  orphan: boolean,
): string[] {
  const keys = new Set(desired.map((d) => d.composed.key));
  const leaving = Object.entries(observed).filter(
    ([k, o]) => !keys.has(k) && getString(o, 'metadata', 'labels', LABEL_MANAGED_BY) === MANAGED_BY,
  );
  const errors: string[] = [];
  for (const { path, composed } of desired) {
    for (const [, o] of leaving) {
      if (o.kind !== composed.resource.kind || o.apiVersion !== composed.resource.apiVersion) {
        continue;
      }
      if (orphan && o.apiVersion !== 'v1') continue;
      if (!composed.identity.every((f) => same(get(o, ...f), get(composed.resource, ...f)))) {
        continue;
      }
      errors.push(
        `${path}: writes the external secret that ${String(o.kind)} ` +
          `${getString(o, 'metadata', 'name') ?? ''} manages for a target being removed; ` +
          'removing that one would delete the secret: keep the old target name' +
          (o.apiVersion === 'v1' ? '' : ', or make the change under deletion policy Orphan'),
      );
    }
  }
  return errors;
}
