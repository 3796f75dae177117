/**
 * Kubernetes: a Secret in the composite's namespace is composed directly; one in another
 * namespace (or cluster) goes through provider-kubernetes' Object. Always `data` with the exact
 * bytes in base64: `stringData` is write-only and never converges.
 */
import { labels, STORE_SUFFIX, targetResourceName } from '../names.js';
import { get, getString, isObj, type Obj } from '../observe.js';
import type { KubernetesSettings } from '../spec.js';
import { managedSpec, observeManaged, PROVIDER_CONFIG } from './managed.js';
import type { Composed, Target, TargetContext } from './target.js';

/** The settings, plus whether the target named its own provider configuration. */
export interface KubernetesTarget extends KubernetesSettings {
  viaProvider: boolean;
}

function namespaceOf(s: KubernetesTarget, composite: string): string {
  return s.namespace ?? composite;
}

/**
 * Composed directly only in the composite's own namespace and when no provider configuration
 * was asked for: a providerConfigRef may point at another cluster.
 */
function local(s: KubernetesTarget, composite: string): boolean {
  return namespaceOf(s, composite) === composite && !s.viaProvider;
}

function manifest(s: KubernetesTarget, ctx: TargetContext): Obj {
  const value = ctx.values.get(ctx.version) ?? Buffer.alloc(0);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: s.name,
      namespace: namespaceOf(s, ctx.composite.namespace),
      labels: labels(ctx.target, 'kubernetes'),
    },
    type: 'Opaque',
    data: { [s.key]: value.toString('base64') },
  };
}

/** The version whose bytes the observed data holds; values are compared, not trusted. */
function versionIn(data: unknown, key: string, values: ReadonlyMap<number, Buffer>): number {
  const encoded = isObj(data) ? data[key] : undefined;
  if (typeof encoded !== 'string') return 0;
  const bytes = Buffer.from(encoded, 'base64');
  for (const [v, value] of values) if (value.equals(bytes)) return v;
  return 0;
}

function composed(s: KubernetesTarget, ctx: TargetContext): Composed {
  const key = `${ctx.target}-kubernetes-secret`;
  if (local(s, ctx.composite.namespace)) {
    return {
      key,
      resource: manifest(s, ctx),
      identity: [['kind'], ['metadata', 'name'], ['metadata', 'namespace']],
    };
  }
  const m = ['spec', 'forProvider', 'manifest', 'metadata'];
  return {
    key,
    identity: [['kind'], m.concat('name'), m.concat('namespace'), PROVIDER_CONFIG],
    resource: {
      apiVersion: 'kubernetes.m.crossplane.io/v1alpha1',
      kind: 'Object',
      metadata: {
        name: targetResourceName(ctx.composite.name, ctx.target),
        labels: labels(ctx.target, 'kubernetes'),
      },
      spec: managedSpec({ manifest: manifest(s, ctx) }, ctx),
    },
  };
}

export const kubernetes = {
  platform: 'kubernetes',
  maxValueBytes: 1024 * 1024,
  refuses: () => undefined,
  settings: (t) =>
    t.kubernetes === undefined
      ? undefined
      : { ...t.kubernetes, viaProvider: t.providerConfigRef !== undefined },
  check: (s, ctx) => {
    const errors: string[] = [];
    if (s.key === '.' || s.key === '..') {
      errors.push(`${ctx.path}.kubernetes.key: must not be "." or ".."`);
    }
    if (local(s, ctx.composite.namespace) && (ctx.alert || ctx.orphan || ctx.origin)) {
      // Crossplane itself applies and deletes a Secret it composes: no policy can stop it.
      const policy = ctx.alert
        ? 'drift policy Alert'
        : ctx.orphan
          ? 'deletion policy Orphan'
          : 'an origin target (never overwritten)';
      errors.push(
        `${ctx.path}.kubernetes: ${policy} cannot hold for a Secret composed directly, which ` +
          'Crossplane always applies and deletes; give this target a providerConfigRef to write ' +
          'it through provider-kubernetes',
      );
    }
    if (s.name.endsWith(STORE_SUFFIX)) {
      errors.push(
        `${ctx.path}.kubernetes.name: must not end in "${STORE_SUFFIX}", which names value stores`,
      );
    }
    if (namespaceOf(s, ctx.composite.namespace) === ctx.composite.namespace) {
      if (s.name === ctx.sourceSecret) {
        errors.push(
          `${ctx.path}.kubernetes.name: is the Secret named by spec.value.fromSecret; a target ` +
            'must not overwrite its own source',
        );
      }
    }
    return { errors, warnings: [] };
  },
  encodedSize: (_s, value) => value.length,
  identity: (s, ref, namespace) =>
    local(s, namespace)
      ? `kubernetes|local|${namespace}|${s.name}`
      : `kubernetes|${ref.kind}/${ref.name}|${namespaceOf(s, namespace)}|${s.name}`,
  externalName: (s, namespace) => `${namespaceOf(s, namespace)}/${s.name}#${s.key}`,
  derivedKeys: () => ({}),
  compose: (s, ctx) => [composed(s, ctx)],
  observe: (s, ctx, observed, previous) => {
    const part = composed(s, { ...ctx, version: 0 });
    if (!local(s, ctx.composite.namespace)) {
      const holds = (o: Obj) => {
        // With --sanitize-secrets the provider reports no data (or {redacted: null}); then only
        // our own spec, confirmed by Ready and Synced, says what it wrote.
        const seen = get(o, 'status', 'atProvider', 'manifest', 'data');
        const reported = isObj(seen) && typeof seen[s.key] === 'string';
        const data = reported ? seen : get(o, 'spec', 'forProvider', 'manifest', 'data');
        const v = versionIn(data, s.key, ctx.values);
        const differs = reported && v === 0;
        return {
          version: v === 0 ? undefined : v,
          evidence: '',
          signal: differs ? ('DataDiffers' as const) : undefined,
        };
      };
      return observeManaged([{ composed: part, holds }], observed, previous);
    }
    // A Secret composed directly has no provider: its observed data is the evidence itself.
    const o = observed[part.key];
    const data = o === undefined ? undefined : get(o, 'data');
    const held = versionIn(data, s.key, ctx.values);
    let problem = '';
    if (o === undefined) problem = 'waiting for Secret to be created';
    else if (held === 0) problem = `key ${s.key} holds no stored version`;
    return {
      heldVersion: held,
      referencedVersion: held === 0 ? undefined : held,
      evidence: o === undefined ? '' : (getString(o, 'metadata', 'resourceVersion') ?? ''),
      healthy: o !== undefined,
      written: isObj(data) && typeof data[s.key] === 'string',
      synced: o !== undefined,
      problem,
      error: '',
      signal:
        isObj(data) && typeof data[s.key] === 'string' && held === 0 ? 'DataDiffers' : undefined,
      resourceHealthy: { [part.key]: o !== undefined },
    };
  },
} satisfies Target<KubernetesTarget>;
