/**
 * HashiCorp Vault (and OpenBao) KV: the provider writes a JSON object, so the store holds, per
 * version, a document built by the JSON encoder: quotes, newlines and JSON text in the value
 * survive as one opaque string.
 */
import { createHash } from 'node:crypto';

import { labels, targetResourceName, versionKey, versionOfKey } from '../names.js';
import { getString } from '../observe.js';
import { isUtf8 } from '../value.js';
import type { VaultSettings } from '../spec.js';
import { FP, managedSpec, observeManaged, PROVIDER_CONFIG, type ManagedPart } from './managed.js';
import type { Target, TargetContext } from './target.js';

const GROUP = 'kv.vault.m.upbound.io/v1alpha1';

/**
 * The document's store key names what shapes it (the JSON key and the encoding), so changing
 * either changes the managed resource's spec and the provider writes again: a provider does not
 * notice a referenced Secret whose content changed.
 */
export function documentKey(s: VaultSettings, target: string, version: number): string {
  return `${versionKey(version)}.${target}.${shapeOf(s)}.json`;
}

/** The hash is the same for the same key and encoding; computing it once per process will do. */
const shapes = new Map<string, string>();

function shapeOf(s: VaultSettings): string {
  const id = `${s.encoding}\n${s.key}`;
  let shape = shapes.get(id);
  if (shape === undefined) {
    shape = createHash('sha256').update(id).digest('hex').slice(0, 8);
    if (shapes.size > 10_000) shapes.clear();
    shapes.set(id, shape);
  }
  return shape;
}

/** The JSON document the provider writes, built by the encoder: any text survives as a string. */
export function document(s: VaultSettings, value: Buffer): Buffer {
  const text = s.encoding === 'Base64' ? value.toString('base64') : value.toString('utf8');
  return Buffer.from(JSON.stringify({ [s.key]: text }), 'utf8');
}

function parts(s: VaultSettings, ctx: TargetContext): ManagedPart[] {
  const ref = { name: ctx.storeName, key: documentKey(s, ctx.target, ctx.version) };
  const forProvider =
    s.kvVersion === 2
      ? { mount: s.mount, name: s.path, dataJsonSecretRef: ref, deleteAllVersions: false }
      : { path: `${s.mount}/${s.path}`, dataJsonSecretRef: ref };
  const secret = {
    apiVersion: GROUP,
    kind: s.kvVersion === 2 ? 'SecretV2' : 'Secret',
    metadata: {
      name: targetResourceName(ctx.composite.name, ctx.target),
      labels: labels(ctx.target, 'vault'),
    },
    spec: managedSpec(forProvider, ctx),
  };
  return [
    {
      composed: {
        key: `${ctx.target}-vault-secret`,
        resource: secret,
        identity: [
          ['kind'],
          FP.concat('mount'),
          FP.concat('name'),
          FP.concat('path'),
          PROVIDER_CONFIG,
        ],
      },
      holds: (o) => ({
        version: versionOfKey(getString(o, 'spec', 'forProvider', 'dataJsonSecretRef', 'key')),
        evidence: getString(o, 'status', 'atProvider', 'metadata', 'version') ?? '',
      }),
    },
  ];
}

export const vault = {
  platform: 'vault',
  // Consul storage caps an entry at 512 KiB (integrated storage at 1 MiB); take the smaller.
  maxValueBytes: 512 * 1024,
  refuses: (s, value) =>
    s.encoding === 'Text' && !isUtf8(value)
      ? 'the value is not UTF-8 text; set vault.encoding: Base64 to store its base64 form'
      : undefined,
  settings: (t) => t.vault,
  check: (s, ctx) => {
    const errors: string[] = [];
    for (const field of ['mount', 'path'] as const) {
      if (s[field].split('/').some((seg) => seg === '.' || seg === '..')) {
        errors.push(`${ctx.path}.vault.${field}: must not contain "." or ".." segments`);
      }
    }
    if (s.kvVersion === 2 && /^data(\/|$)/.test(s.path)) {
      errors.push(
        `${ctx.path}.vault.path: must not start with "data/": the provider adds the KV v2 ` +
          'data/ prefix itself; give the path inside the mount (a "data" segment further ' +
          'down is fine)',
      );
    }
    return { errors, warnings: [] };
  },
  encodedSize: (s, value) => document(s, value).length,
  // The provider writes the whole JSON object, so two targets on one path overwrite each other
  // even with different keys; and "secret" + "team/db" is the same place as "secret/team" + "db".
  identity: (s, ref) => `vault|${ref.kind}/${ref.name}|${s.mount}/${s.path}`,
  externalName: (s) => `${s.mount}/${s.path}#${s.key}`,
  derivedKeys: (s, target, version, value) => ({
    [documentKey(s, target, version)]: document(s, value),
  }),
  compose: (s, ctx) => parts(s, ctx).map((p) => p.composed),
  observe: (s, ctx, observed, previous) =>
    observeManaged(parts(s, { ...ctx, version: 0 }), observed, previous),
} satisfies Target<VaultSettings>;
