import { describe, expect, it } from '@jest/globals';
import { Severity } from '@crossplane-org/function-sdk-typescript';

import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { SOURCE_REQUIREMENT } from '../src/resolve.js';
import {
  compositionInput,
  example,
  observeAll,
  request,
  testDeps,
  sourceSecret,
} from './helpers.js';

const AZURE_VAULT = '/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-one';

function xr(spec: Obj, metadata: Obj = { name: 'db', namespace: 'team-a' }): Obj {
  return {
    apiVersion: 'secrets.crossplatform.io/v1alpha1',
    kind: 'CrossPlatformSecret',
    metadata,
    spec,
  };
}

const gen = { generate: { length: 32 } };
const aws = (name: string, extra: Obj = {}) => ({
  name,
  aws: { region: 'eu-west-1', name: 'team-a/db', ...extra },
});

const source = (data: Record<string, Buffer>): Obj => sourceSecret('src', data);

const fromSrc = { fromSecret: { name: 'src', key: 'k' } };

interface Case {
  name: string;
  reason: string;
  composite: Obj;
  input?: Obj;
  required?: Obj[];
  observed?: Record<string, Obj>;
  fatal: string;
}

const cases: Case[] = [
  {
    name: 'composite without namespace',
    reason: 'CrossPlatformSecret is namespaced; the store lives in its namespace',
    composite: xr({ value: gen, targets: [aws('a')] }, { name: 'db' }),
    fatal: 'cannot compose: the observed composite has no metadata.name or metadata.namespace',
  },
  {
    name: 'no targets',
    reason: 'the XRD requires targets',
    composite: xr({ value: gen }),
    fatal: 'invalid spec: spec.targets: is required',
  },
  {
    name: 'unknown field',
    reason: 'a typo must not be dropped silently',
    composite: xr({ value: gen, targets: [aws('a', { regoin: 'x' })] }),
    fatal: 'invalid spec: spec.targets[0].aws: unknown field "regoin"',
  },
  {
    name: 'two value sources',
    reason: 'exactly one of generate and fromSecret',
    composite: xr({ value: { ...gen, ...fromSrc }, targets: [aws('a')] }),
    fatal: 'invalid spec: spec.value: must set exactly one of: generate, fromSecret',
  },
  {
    name: 'two platforms in one target',
    reason: 'a target names exactly one platform',
    composite: xr({
      value: gen,
      targets: [{ ...aws('a'), kubernetes: { name: 'x', key: 'y' } }],
    }),
    fatal: 'invalid spec: spec.targets[0]: must set exactly one of: aws, azure, vault, kubernetes',
  },
  {
    name: 'azure name with an underscore',
    reason: 'Key Vault names are 1-127 of 0-9, a-z, A-Z and -',
    composite: xr({
      value: gen,
      targets: [{ name: 'a', azure: { vaultId: AZURE_VAULT, name: 'db_pw' } }],
    }),
    fatal: 'invalid spec: spec.targets[0].azure.name: must match the pattern ^[0-9a-zA-Z-]+$',
  },
  {
    name: 'aws recovery window of 3 days',
    reason: 'AWS accepts 0 or 7-30',
    composite: xr({ value: gen, targets: [aws('a', { recoveryWindowInDays: 3 })] }),
    fatal: 'invalid spec: spec.targets[0].aws.recoveryWindowInDays: must not be between 1 and 6',
  },
  {
    name: 'generated length below the schema minimum',
    reason: 'the XRD bounds generate.length',
    composite: xr({ value: { generate: { length: 4 } }, targets: [aws('a')] }),
    fatal: 'invalid spec: spec.value.generate.length: must be >= 8',
  },
  {
    name: 'duplicate target names',
    reason: 'target names key the composed resources',
    composite: xr({
      value: gen,
      targets: [aws('a'), { name: 'a', kubernetes: { name: 'x', key: 'y' } }],
    }),
    fatal: 'invalid spec: spec.targets[1].name: duplicates the name of spec.targets[0]',
  },
  {
    name: 'two targets on one AWS secret',
    reason: 'two writers of one external secret would fight',
    composite: xr({ value: gen, targets: [aws('a'), aws('b')] }),
    fatal:
      'invalid spec: spec.targets[1]: writes the same external secret as spec.targets[0] ' +
      '(eu-west-1:team-a/db)',
  },
  {
    name: 'two targets on one Azure secret, differing only in case',
    reason: 'Azure names and resource IDs are case-insensitive',
    composite: xr({
      value: gen,
      targets: [
        { name: 'a', azure: { vaultId: AZURE_VAULT, name: 'db-pw' } },
        { name: 'b', azure: { vaultId: AZURE_VAULT.replace('kv-one', 'KV-ONE'), name: 'DB-PW' } },
      ],
    }),
    fatal:
      'invalid spec: spec.targets[1]: writes the same external secret as spec.targets[0] ' +
      '(KV-ONE/DB-PW)',
  },
  {
    name: 'two vault targets on one path with different keys',
    reason: 'the provider writes the whole JSON document, so one would erase the other',
    composite: xr({
      value: gen,
      targets: [
        { name: 'a', vault: { mount: 'secret', path: 'db', key: 'user' } },
        { name: 'b', vault: { mount: 'secret', path: 'db', key: 'password' } },
      ],
    }),
    fatal:
      'invalid spec: spec.targets[1]: writes the same external secret as spec.targets[0] ' +
      '(secret/db#password)',
  },
  {
    name: 'vault path with the data/ prefix',
    reason: 'the provider adds data/ for KV v2; the prefix would be doubled',
    composite: xr({
      value: gen,
      targets: [{ name: 'a', vault: { mount: 'secret', path: 'data/db', key: 'k' } }],
    }),
    fatal:
      'invalid spec: spec.targets[0].vault.path: must not start with "data/": the provider ' +
      'adds the KV v2 data/ prefix itself; give the path inside the mount (a "data" segment ' +
      'further down is fine)',
  },
  {
    name: "kubernetes target named like another composite's store",
    reason: 'the target would overwrite a value store, this one or another',
    composite: xr({
      value: gen,
      targets: [{ name: 'a', kubernetes: { name: 'other.value-store', key: 'k' } }],
    }),
    fatal:
      'invalid spec: spec.targets[0].kubernetes.name: must not end in ".value-store", which ' +
      'names value stores',
  },
  {
    name: 'two vault KV v1 targets on one path, split differently',
    reason: '"secret" + "team/db" and "secret/team" + "db" are the same place',
    composite: xr({
      value: gen,
      targets: [
        { name: 'a', vault: { mount: 'secret', path: 'team/db', key: 'k', kvVersion: 1 } },
        { name: 'b', vault: { mount: 'secret/team', path: 'db', key: 'k', kvVersion: 1 } },
      ],
    }),
    fatal:
      'invalid spec: spec.targets[1]: writes the same external secret as spec.targets[0] ' +
      '(secret/team/db#k)',
  },
  {
    name: 'vault path with a ".." segment',
    reason: 'a path that climbs out cannot be compared with others',
    composite: xr({
      value: gen,
      targets: [{ name: 'a', vault: { mount: 'secret', path: 'x/../team/db', key: 'k' } }],
    }),
    fatal: 'invalid spec: spec.targets[0].vault.path: must not contain "." or ".." segments',
  },
  {
    name: 'unknown field with a huge name',
    reason: 'a hostile field name must not flood the event',
    composite: xr({ value: gen, targets: [aws('a', { ['x'.repeat(100_000)]: 1 })] }),
    fatal: `invalid spec: spec.targets[0].aws: unknown field "${'x'.repeat(61)}..."`,
  },
  {
    name: 'input of another kind',
    reason: 'a Composition passing the wrong object is a broken Composition',
    composite: xr({ value: gen, targets: [aws('a')] }),
    input: { apiVersion: 'v1', kind: 'ConfigMap' },
    fatal: 'invalid input: input: must be secrets.fn.crossplatform.io/v1beta1 Input',
  },
  {
    name: 'fromSecret data that is not base64',
    reason: 'the API server never stores that; the source is not what it claims',
    composite: xr({ value: fromSrc, targets: [aws('a')] }),
    required: [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'src', namespace: 'team-a' },
        data: { k: 'not base64!' },
      },
    ],
    fatal:
      'cannot read spec.value.fromSecret: key "k" of Secret "src" in namespace "team-a" is not ' +
      'base64',
  },
  {
    name: 'fromSecret value shorter than 8 bytes',
    reason: 'too weak to be a secret, and too short to redact from provider messages',
    composite: xr({ value: fromSrc, targets: [aws('a')] }),
    required: [source({ k: Buffer.from('abc') })],
    fatal: 'invalid value: spec.value: the value is shorter than 8 bytes',
  },
  {
    name: 'value store of another kind',
    reason: 'only a Secret can be the store',
    composite: xr({ value: gen, targets: [aws('a')] }),
    observed: {
      store: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'db.value-store' } },
    },
    fatal:
      'cannot read the value store Secret "db.value-store": it is not a v1 Secret; no new value ' +
      'is generated while a stored one may be in use: restore the Secret',
  },
  {
    name: 'kubernetes target overwriting its own source',
    reason: 'the target would overwrite the Secret the value is copied from',
    composite: xr({
      value: fromSrc,
      targets: [{ name: 'a', kubernetes: { name: 'src', key: 'k' } }],
    }),
    fatal:
      'invalid spec: spec.targets[0].kubernetes.name: is the Secret named by ' +
      'spec.value.fromSecret; a target must not overwrite its own source',
  },
  {
    name: 'kubernetes key ".."',
    reason: 'Kubernetes refuses "." and ".." as data keys',
    composite: xr({ value: gen, targets: [{ name: 'a', kubernetes: { name: 'x', key: '..' } }] }),
    fatal: 'invalid spec: spec.targets[0].kubernetes.key: must not be "." or ".."',
  },
  {
    name: 'guardrail: length below the Composition minimum',
    reason: 'the packaged Composition asks for at least 16 characters',
    composite: xr({ value: { generate: { length: 12 } }, targets: [aws('a')] }),
    fatal:
      'invalid spec: spec.value.generate.length: must be >= 16 (guardrail minLength of the ' +
      'Composition)',
  },
  {
    name: 'guardrail: platform not allowed',
    reason: 'the platform team restricts where secrets may go',
    composite: xr({ value: gen, targets: [aws('a')] }),
    input: { ...compositionInput(), guardrails: { allowedPlatforms: ['vault', 'kubernetes'] } },
    fatal:
      'invalid spec: spec.targets[0]: platform aws is not allowed by the Composition (allowed: ' +
      'vault, kubernetes)',
  },
  {
    name: 'invalid function input',
    reason: 'a broken Composition is reported as such, not as a user error',
    composite: xr({ value: gen, targets: [aws('a')] }),
    input: { ...compositionInput(), guardrails: { minLength: 'long' } },
    fatal: 'invalid input: input.guardrails.minLength: must be of type integer',
  },
  {
    name: 'fromSecret key missing',
    reason: 'nothing to copy, and nothing stored yet',
    composite: xr({ value: fromSrc, targets: [aws('a')] }),
    required: [source({ other: Buffer.from('x') })],
    fatal: 'cannot read spec.value.fromSecret: Secret "src" in namespace "team-a" has no key "k"',
  },
  {
    name: 'fromSecret Secret missing',
    reason: 'Crossplane resolved the requirement to nothing',
    composite: xr({ value: fromSrc, targets: [aws('a')] }),
    required: [],
    fatal: 'cannot read spec.value.fromSecret: Secret "src" in namespace "team-a" does not exist',
  },
  {
    name: 'value too large for Azure',
    reason: 'Key Vault holds at most 25 KiB; checked before any platform is written',
    composite: xr({
      value: fromSrc,
      targets: [aws('a'), { name: 'b', azure: { vaultId: AZURE_VAULT, name: 'db' } }],
    }),
    required: [source({ k: Buffer.alloc(26 * 1024, 'a') })],
    fatal:
      'invalid value: spec.targets[1]: the value takes 26624 bytes on azure, which holds at ' +
      'most 25600',
  },
  {
    name: 'binary value for a Text Azure target',
    reason: 'Key Vault stores text; binary needs the declared Base64 form',
    composite: xr({
      value: fromSrc,
      targets: [{ name: 'b', azure: { vaultId: AZURE_VAULT, name: 'db' } }],
    }),
    required: [source({ k: Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x42, 0x43, 0x44, 0x45]) })],
    fatal:
      'invalid value: spec.targets[0]: the value is not UTF-8 text; set azure.encoding: Base64 ' +
      'to store its base64 form',
  },

  {
    name: 'value store without its current version',
    reason: 'a damaged store is reported, never replaced by a fresh value',
    composite: xr({ value: gen, targets: [aws('a')] }),
    observed: {
      store: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'db.value-store',
          annotations: { 'secrets.crossplatform.io/version': '2' },
        },
        data: { v1: 'YWJjZGVmZ2g=' },
      },
    },
    fatal:
      'cannot read the value store Secret "db.value-store": key v2 of the current version is ' +
      'missing; no new value is generated while a stored one may be in use: restore the ' +
      'Secret',
  },
];

describe('RunFunction refuses bad input with one fatal result and emits nothing', () => {
  it.each(cases)('$name: $reason', (c) => {
    const req = request(c.composite, {
      input: c.input,
      observed: c.observed,
      required: c.required === undefined ? undefined : { [SOURCE_REQUIREMENT]: c.required },
    });
    const rsp = runFunction(req, testDeps());
    expect(rsp.results).toEqual([
      expect.objectContaining({ severity: Severity.SEVERITY_FATAL, message: c.fatal }),
    ]);
    expect(rsp.desired?.resources).toEqual({});
    expect(rsp.desired?.composite).toBeUndefined();
    expect(rsp.conditions).toEqual([]);
  });
});

describe('RunFunction warns without blocking', () => {
  it('warns when an AWS name ends like an ARN suffix', () => {
    const rsp = runFunction(
      request(xr({ value: gen, targets: [aws('a', { name: 'team-a/db-secret' })] })),
      testDeps(),
    );
    const warnings = rsp.results.filter((r) => r.severity === Severity.SEVERITY_WARNING);
    expect(warnings.map((w) => w.message)).toEqual([
      'spec.targets[0].aws.name: ends with a hyphen and six characters, which AWS confuses ' +
        'with the random suffix of its ARNs; lookups by partial ARN may pick the wrong secret',
    ]);
    expect(Object.keys(rsp.desired?.resources ?? {})).toHaveLength(3);
  });

  it('keeps the stored value when the fromSecret source disappears', () => {
    const composite = xr({ value: fromSrc, targets: [aws('a')] });
    const sourceSecret = source({ k: Buffer.from('first-value') });
    const first = runFunction(
      request(composite, { required: { [SOURCE_REQUIREMENT]: [sourceSecret] } }),
      testDeps(),
    );
    const rsp = runFunction(
      request(composite, { observed: observeAll(first), required: { [SOURCE_REQUIREMENT]: [] } }),
      testDeps(),
    );
    expect(rsp.results.map((r) => [r.severity, r.message])).toEqual([
      [
        Severity.SEVERITY_WARNING,
        'spec.value.fromSecret: Secret "src" in namespace "team-a" does not exist; targets ' +
          'keep the stored version',
      ],
    ]);
    expect(Object.keys(rsp.desired?.resources ?? {})).toContain('store');
  });
});

describe('the packaged examples', () => {
  it.each(['all-platforms', 'aws', 'azure', 'vault', 'kubernetes'])('%s composes', (name) => {
    const rsp = runFunction(request(example(name)), testDeps());
    expect(rsp.results.map((r) => r.severity)).toEqual([Severity.SEVERITY_NORMAL]);
  });
});
