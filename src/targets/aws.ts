/**
 * AWS Secrets Manager: a Secret (the container) and a SecretVersion that reads the value from
 * the store and pins AWSCURRENT on it, so a console edit that moves the label is healed.
 */
import { base64Key, labels, targetResourceName, versionKey, versionOfKey } from '../names.js';
import { get, getString, type Obj } from '../observe.js';
import { isUtf8 } from '../value.js';
import type { AwsSettings } from '../spec.js';
import { FP, managedSpec, observeManaged, PROVIDER_CONFIG, type ManagedPart } from './managed.js';
import type { Target, TargetContext } from './target.js';

const GROUP = 'secretsmanager.aws.m.upbound.io/v1beta1';

/** AWS appends "-" and six random characters to the ARN; a name ending alike is ambiguous. */
const SUFFIX_HAZARD = /-[A-Za-z0-9]{6}$/;

/** Text goes to SecretString; other bytes to SecretBinary, which the provider reads as base64. */
function valueRef(ctx: TargetContext): Obj {
  const value = ctx.values.get(ctx.version);
  if (value === undefined || isUtf8(value)) {
    return { secretStringSecretRef: { name: ctx.storeName, key: versionKey(ctx.version) } };
  }
  return { secretBinarySecretRef: { name: ctx.storeName, key: base64Key(ctx.version) } };
}

function parts(s: AwsSettings, ctx: TargetContext): ManagedPart[] {
  const name = targetResourceName(ctx.composite.name, ctx.target);
  const meta = { name, labels: labels(ctx.target, 'aws') };
  const secret = {
    apiVersion: GROUP,
    kind: 'Secret',
    metadata: meta,
    spec: managedSpec(
      {
        region: s.region,
        name: s.name,
        ...(s.description === undefined ? {} : { description: s.description }),
        ...(s.kmsKeyId === undefined ? {} : { kmsKeyId: s.kmsKeyId }),
        recoveryWindowInDays: s.recoveryWindowInDays ?? ctx.defaults.awsRecoveryWindowInDays,
      },
      ctx,
    ),
  };
  const version = {
    apiVersion: GROUP,
    kind: 'SecretVersion',
    metadata: meta,
    spec: managedSpec(
      {
        region: s.region,
        secretIdRef: { name },
        ...valueRef(ctx),
        versionStages: ['AWSCURRENT'],
      },
      ctx,
    ),
  };
  return [
    {
      composed: {
        key: `${ctx.target}-aws-secret`,
        resource: secret,
        identity: [['kind'], FP.concat('region'), FP.concat('name'), PROVIDER_CONFIG],
      },
    },
    {
      composed: {
        key: `${ctx.target}-aws-version`,
        resource: version,
        identity: [['kind'], FP.concat('region'), PROVIDER_CONFIG],
      },
      holds: (o) => {
        const ref =
          getString(o, 'spec', 'forProvider', 'secretStringSecretRef', 'key') ??
          getString(o, 'spec', 'forProvider', 'secretBinarySecretRef', 'key');
        const stages = get(o, 'status', 'atProvider', 'versionStages');
        const current = Array.isArray(stages) && stages.includes('AWSCURRENT');
        // Our version without AWSCURRENT: someone made another version current.
        const moved = Array.isArray(stages) && !current;
        return {
          version: current ? versionOfKey(ref) : undefined,
          evidence: getString(o, 'status', 'atProvider', 'versionId') ?? '',
          signal: moved ? 'CurrentLabelMoved' : undefined,
        };
      },
    },
  ];
}

export const aws = {
  platform: 'aws',
  maxValueBytes: 65536,
  // Bytes that are not UTF-8 go to the binary field, which AWS stores as they are.
  refuses: () => undefined,
  settings: (t) => t.aws,
  check: (s, ctx) => ({
    errors: [],
    warnings: SUFFIX_HAZARD.test(s.name)
      ? [
          `${ctx.path}.aws.name: ends with a hyphen and six characters, which AWS confuses with ` +
            'the random suffix of its ARNs; lookups by partial ARN may pick the wrong secret',
        ]
      : [],
  }),
  encodedSize: (_s, value) => value.length,
  identity: (s, ref) => `aws|${ref.kind}/${ref.name}|${s.region}|${s.name}`,
  externalName: (s) => `${s.region}:${s.name}`,
  derivedKeys: (_s, _t, version, value) =>
    isUtf8(value) ? {} : { [base64Key(version)]: Buffer.from(value.toString('base64')) },
  compose: (s, ctx) => parts(s, ctx).map((p) => p.composed),
  observe: (s, ctx, observed, previous) =>
    observeManaged(parts(s, { ...ctx, version: 0 }), observed, previous),
} satisfies Target<AwsSettings>;
