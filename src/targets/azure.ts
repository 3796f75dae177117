/**
 * Azure Key Vault: one Secret whose value comes from the store through `valueSecretRef`. Never
 * `valueWo`: it is a plain string in the managed resource's spec.
 */
import { base64Key, labels, targetResourceName, versionKey, versionOfKey } from '../names.js';
import { getString } from '../observe.js';
import { isUtf8 } from '../value.js';
import type { AzureSettings } from '../spec.js';
import { FP, managedSpec, observeManaged, PROVIDER_CONFIG, type ManagedPart } from './managed.js';
import type { Target, TargetContext } from './target.js';

function parts(s: AzureSettings, ctx: TargetContext): ManagedPart[] {
  const secret = {
    apiVersion: 'keyvault.azure.m.upbound.io/v1beta1',
    kind: 'Secret',
    metadata: {
      name: targetResourceName(ctx.composite.name, ctx.target),
      labels: labels(ctx.target, 'azure'),
    },
    spec: managedSpec(
      {
        name: s.name,
        keyVaultId: s.vaultId,
        valueSecretRef: {
          name: ctx.storeName,
          key: s.encoding === 'Base64' ? base64Key(ctx.version) : versionKey(ctx.version),
        },
        ...(s.contentType === undefined ? {} : { contentType: s.contentType }),
      },
      ctx,
    ),
  };
  return [
    {
      composed: {
        key: `${ctx.target}-azure-secret`,
        resource: secret,
        // The vault's resource ID is global, but another configuration may mean another tenant.
        identity: [['kind'], FP.concat('keyVaultId'), FP.concat('name'), PROVIDER_CONFIG],
      },
      holds: (o) => ({
        version: versionOfKey(getString(o, 'spec', 'forProvider', 'valueSecretRef', 'key')),
        evidence: getString(o, 'status', 'atProvider', 'version') ?? '',
      }),
    },
  ];
}

export const azure = {
  platform: 'azure',
  // "a maximum size of 25 KB", which Key Vault counts in bytes of the stored octets.
  maxValueBytes: 25 * 1024,
  refuses: (s, value) =>
    s.encoding === 'Text' && !isUtf8(value)
      ? 'the value is not UTF-8 text; set azure.encoding: Base64 to store its base64 form'
      : undefined,
  settings: (t) => t.azure,
  check: () => ({ errors: [], warnings: [] }),
  encodedSize: (s, value) =>
    s.encoding === 'Base64' ? Buffer.byteLength(value.toString('base64')) : value.length,
  // Resource IDs and secret names are case-insensitive in Azure.
  identity: (s) => `azure|${s.vaultId.toLowerCase()}|${s.name.toLowerCase()}`,
  externalName: (s) => `${s.vaultId.split('/').pop() ?? ''}/${s.name}`,
  derivedKeys: (s, _t, version, value) =>
    s.encoding === 'Base64' ? { [base64Key(version)]: Buffer.from(value.toString('base64')) } : {},
  compose: (s, ctx) => parts(s, ctx).map((p) => p.composed),
  observe: (s, ctx, observed, previous) =>
    observeManaged(parts(s, { ...ctx, version: 0 }), observed, previous),
} satisfies Target<AzureSettings>;
