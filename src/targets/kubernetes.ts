/**
 * Kubernetes: a Secret in the composite's namespace is composed directly; one in another
 * namespace (or cluster) goes through provider-kubernetes' Object. Always `data` with the exact
 * bytes in base64: `stringData` is write-only and never converges.
 */
import { labels, targetResourceName } from '../names.js';
import { get, getString, isObj, type Obj } from '../observe.js';
import type { KubernetesSettings } from '../spec.js';
import { managedSpec, observeManaged } from './managed.js';
import type { Target, TargetContext } from './target.js';

function namespaceOf(s: KubernetesSettings, composite: string): string {
  return s.namespace ?? composite;
}

function local(s: KubernetesSettings, composite: string): boolean {
  return namespaceOf(s, composite) === composite;
}

function manifest(s: KubernetesSettings, ctx: TargetContext): Obj {
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

function composed(s: KubernetesSettings, ctx: TargetContext): { key: string; resource: Obj } {
  const key = `${ctx.target}-kubernetes-secret`;
  if (local(s, ctx.composite.namespace)) return { key, resource: manifest(s, ctx) };
  return {
    key,
    resource: {
      apiVersion: 'kubernetes.m.crossplane.io/v1alpha1',
      kind: 'Object',
      metadata: {
        name: targetResourceName(ctx.composite.name, ctx.target),
        labels: labels(ctx.target, 'kubernetes'),
      },
      spec: managedSpec({ manifest: manifest(s, ctx) }, ctx.providerConfigRef),
    },
  };
}

export const kubernetes = {
  platform: 'kubernetes',
  maxValueBytes: 1024 * 1024,
  textOnly: false,
  settings: (t) => t.kubernetes,
  check: (s, ctx) => {
    const errors: string[] = [];
    if (s.key === '.' || s.key === '..') {
      errors.push(`${ctx.path}.kubernetes.key: must not be "." or ".."`);
    }
    if (local(s, ctx.composite.namespace)) {
      if (s.name === ctx.storeName) {
        errors.push(`${ctx.path}.kubernetes.name: is the name of this secret's value store`);
      }
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
        // The provider may run with --sanitize-secrets; then only our spec says it.
        const seen = get(o, 'status', 'atProvider', 'manifest', 'data');
        const data = isObj(seen) ? seen : get(o, 'spec', 'forProvider', 'manifest', 'data');
        const v = versionIn(data, s.key, ctx.values);
        return { version: v === 0 ? undefined : v, evidence: '' };
      };
      return observeManaged([{ composed: part, holds }], observed, previous);
    }
    // A Secret composed directly has no provider: its observed data is the evidence itself.
    const o = observed[part.key];
    const held = o === undefined ? 0 : versionIn(get(o, 'data'), s.key, ctx.values);
    let problem = '';
    if (o === undefined) problem = 'waiting for Secret to be created';
    else if (held === 0) problem = `key ${s.key} holds no stored version`;
    return {
      heldVersion: held,
      referencedVersion: held === 0 ? undefined : held,
      evidence: o === undefined ? '' : (getString(o, 'metadata', 'resourceVersion') ?? ''),
      healthy: o !== undefined,
      synced: o !== undefined,
      problem,
      resourceHealthy: { [part.key]: o !== undefined },
    };
  },
} satisfies Target<KubernetesSettings>;
