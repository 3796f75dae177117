import { describe, expect, it } from '@jest/globals';
import { Ready, RunFunctionResponse, Severity } from '@crossplane-org/function-sdk-typescript';

import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { SOURCE_REQUIREMENT } from '../src/resolve.js';
import { expectGolden } from './golden.js';
import {
  desiredObjects,
  example,
  loadDoc,
  observeAll,
  request,
  ROOT,
  storeValue,
  testDeps,
} from './helpers.js';

const licence = loadDoc(`${ROOT}examples/required/licence.yaml`);

function encode(rsp: RunFunctionResponse): Buffer {
  return Buffer.from(RunFunctionResponse.encode(rsp).finish());
}

describe('RunFunction on a first call', () => {
  it.each([
    { name: 'all-platforms', reason: 'four targets, one per platform, share one value' },
    { name: 'aws', reason: 'an AWS Secret and a SecretVersion pinned to AWSCURRENT' },
    { name: 'azure', reason: 'a Key Vault Secret reading the store through valueSecretRef' },
    { name: 'vault', reason: 'KV v2 SecretV2 and KV v1 Secret with an encoded JSON document' },
    { name: 'kubernetes', reason: 'a Secret in the namespace and an Object for another one' },
  ])('$name: $reason', ({ name }) => {
    const deps = testDeps();
    const rsp = runFunction(request(example(name)), deps);
    expectGolden(`first-call-${name}`, RunFunctionResponse.toJSON(rsp));

    const normal = rsp.results.filter((r) => r.severity === Severity.SEVERITY_NORMAL);
    expect(normal).toHaveLength(1);
    expect(rsp.results.filter((r) => r.severity === Severity.SEVERITY_FATAL)).toHaveLength(0);
    // Nothing is observed yet, so nothing is ready.
    for (const r of Object.values(rsp.desired?.resources ?? {})) {
      expect(r.ready).toBe(Ready.READY_FALSE);
    }
  });

  it('fromSecret: asks Crossplane for the source Secret and emits nothing until it has it', () => {
    const rsp = runFunction(request(example('from-secret')), testDeps());
    expect(rsp.results).toEqual([]);
    expect(rsp.desired?.resources).toEqual({});
    expect(rsp.requirements?.resources).toEqual({
      [SOURCE_REQUIREMENT]: {
        apiVersion: 'v1',
        kind: 'Secret',
        matchName: 'vendor-licence',
        namespace: 'team-f',
      },
    });
  });

  it('fromSecret: copies the source value into the store and every target', () => {
    const req = request(example('from-secret'), { required: { [SOURCE_REQUIREMENT]: [licence] } });
    const rsp = runFunction(req, testDeps());
    expectGolden('first-call-from-secret', RunFunctionResponse.toJSON(rsp));
    expect(storeValue(rsp).toString()).toBe('LICENCE-0000-EXAMPLE');
    const doc = desiredObjects(rsp).store?.data as Record<string, string>;
    const json = Buffer.from(doc['v1.vault.0b1d87fb.json'] ?? '', 'base64').toString();
    expect(JSON.parse(json)).toEqual({ licence: 'LICENCE-0000-EXAMPLE' });
  });

  it('generates from the requested character set and length', () => {
    const xr = example('vault');
    const rsp = runFunction(request(xr), testDeps(7));
    const value = storeValue(rsp).toString('latin1');
    expect(value).toHaveLength(40);
    expect(value).toMatch(/^[\x21-\x7e]+$/);
  });
});

describe('RunFunction with observed state', () => {
  it('reuses the stored value: no regeneration, and every target is judged ready', () => {
    const xr = example('all-platforms');
    const first = runFunction(request(xr), testDeps(1));
    // A different random seed would give a different value if the function generated again.
    const deps = testDeps(99);
    const second = runFunction(request(xr, { observed: observeAll(first) }), deps);

    expect(storeValue(second).equals(storeValue(first))).toBe(true);
    expect(second.results).toEqual([]);
    expectGolden('observed-all-platforms-ready', RunFunctionResponse.toJSON(second));
    for (const r of Object.values(second.desired?.resources ?? {})) {
      expect(r.ready).toBe(Ready.READY_TRUE);
    }
  });

  it('gives byte-identical responses for two calls on the same observed state', () => {
    const xr = example('all-platforms');
    const first = runFunction(request(xr), testDeps(1));
    const req = request(xr, { observed: observeAll(first) });
    const a = encode(runFunction(req, testDeps(2)));
    const b = encode(runFunction(req, testDeps(3)));
    expect(a.equals(b)).toBe(true);
  });

  it('resumes from the store alone when the composite status is lost', () => {
    const xr = example('aws');
    const first = runFunction(request(xr), testDeps(1));
    const store = observeAll(first).store;
    if (store === undefined) throw new Error('no store');
    const rsp = runFunction(request(xr, { observed: { store } }), testDeps(5));
    expect(storeValue(rsp).equals(storeValue(first))).toBe(true);
    expect(rsp.results).toEqual([]);
  });

  it('reports a provider error per target without blocking the others', () => {
    const xr = example('all-platforms');
    const first = runFunction(request(xr), testDeps(1));
    const observed = observeAll(first);
    const azure = observed['azure-prod-azure-secret'];
    if (azure === undefined) throw new Error('no azure resource');
    azure.status = {
      atProvider: {},
      conditions: [
        { type: 'Ready', status: 'False', reason: 'Creating' },
        { type: 'Synced', status: 'True', reason: 'ReconcileSuccess' },
        {
          type: 'LastAsyncOperation',
          status: 'False',
          reason: 'ApplyFailure',
          message: 'async create failed: 409 Conflict: ObjectIsDeletedButRecoverable',
        },
      ],
    };
    const rsp = runFunction(request(xr, { observed }), testDeps(1));
    expectGolden('observed-azure-failing', RunFunctionResponse.toJSON(rsp));
    expect(rsp.desired?.resources['azure-prod-azure-secret']?.ready).toBe(Ready.READY_FALSE);
    expect(rsp.desired?.resources['aws-prod-aws-version']?.ready).toBe(Ready.READY_TRUE);
  });

  it('does not believe a condition written for an older generation', () => {
    const xr = example('azure');
    const first = runFunction(request(xr), testDeps(1));
    const observed = observeAll(first);
    const secret = observed['kv-azure-secret'] as { metadata: Obj };
    secret.metadata.generation = 2;
    const rsp = runFunction(request(xr, { observed }), testDeps(1));
    const status = (rsp.desired?.composite?.resource as Obj).status as {
      targets: { ready: boolean; message: string }[];
    };
    expect(status.targets[0]?.ready).toBe(false);
    expect(status.targets[0]?.message).toContain('has not yet observed the current spec');
  });
});

describe('RunFunction guards what targets already hold', () => {
  const lostStore = () => {
    const xr = example('all-platforms');
    const first = runFunction(request(xr), testDeps(1));
    const observed = observeAll(first);
    delete observed.store;
    return { xr, observed };
  };

  it('refuses to generate when the store is lost but targets hold a value', () => {
    const { xr, observed } = lostStore();
    const rsp = runFunction(request(xr, { observed }), testDeps(2));
    expect(rsp.results.map((r) => [r.severity, r.message])).toEqual([
      [
        Severity.SEVERITY_FATAL,
        'cannot find the value store Secret "db-password.value-store" although targets already ' +
          'hold a value; no new value is generated, which would replace it everywhere: restore ' +
          'the Secret, or set the annotation secrets.crossplatform.io/regenerate: "true" to ' +
          'accept a new value',
      ],
    ]);
    expect(rsp.desired?.resources).toEqual({});
  });

  it('accepts a new value under a fresh version number when asked to', () => {
    const { xr, observed } = lostStore();
    const meta = xr.metadata as Obj;
    const accepted = {
      ...xr,
      metadata: { ...meta, annotations: { 'secrets.crossplatform.io/regenerate': 'true' } },
    };
    const rsp = runFunction(request(accepted, { observed }), testDeps(2));
    // The Kubernetes target still holds the lost value, which no stored version matches.
    expect(rsp.results.map((r) => [r.severity, r.reason])).toEqual([
      [Severity.SEVERITY_WARNING, 'CheckSpec'],
      [Severity.SEVERITY_NORMAL, 'ValueCreated'],
      [Severity.SEVERITY_WARNING, 'DriftDetected'],
    ]);
    expect(storeValue(rsp, 2).length).toBe(32);
    const version = desiredObjects(rsp)['aws-prod-aws-version'] as {
      spec: { forProvider: { secretStringSecretRef: { key: string } } };
    };
    expect(version.spec.forProvider.secretStringSecretRef.key).toBe('v2');
  });
});

describe('RunFunction on platform details', () => {
  it('writes a Kubernetes target that names a config through provider-kubernetes', () => {
    const xr = example('kubernetes');
    const spec = xr.spec as { targets: Obj[] };
    spec.targets[0] = { ...spec.targets[0], providerConfigRef: { name: 'other-cluster' } };
    const rsp = runFunction(request(xr), testDeps());
    expect(desiredObjects(rsp)['local-kubernetes-secret']).toMatchObject({
      kind: 'Object',
      spec: { providerConfigRef: { kind: 'ClusterProviderConfig', name: 'other-cluster' } },
    });
  });

  it('trusts its own spec when provider-kubernetes sanitizes Secret data', () => {
    const xr = example('kubernetes');
    const first = runFunction(request(xr), testDeps());
    const observed = observeAll(first);
    const edge = observed['edge-kubernetes-secret'] as { status: { atProvider: Obj } };
    edge.status.atProvider = { manifest: { data: { redacted: null } } };
    const rsp = runFunction(request(xr, { observed }), testDeps());
    const status = (rsp.desired?.composite?.resource as Obj).status as {
      targets: { name: string; ready: boolean; heldVersion: number }[];
    };
    expect(status.targets.find((t) => t.name === 'edge')).toMatchObject({
      ready: true,
      heldVersion: 1,
    });
  });

  it('copies only the Secret fromSecret names, whatever else is provided', () => {
    const other = { ...licence, metadata: { name: 'not-the-source', namespace: 'team-f' } };
    const otherNs = { ...licence, metadata: { name: 'vendor-licence', namespace: 'team-z' } };
    const wrong = Buffer.from('WRONG-SECRET-VALUE').toString('base64');
    const req = request(example('from-secret'), {
      required: {
        [SOURCE_REQUIREMENT]: [
          { ...other, data: { licence: wrong } },
          { ...otherNs, data: { licence: wrong } },
          licence,
        ],
      },
    });
    const rsp = runFunction(req, testDeps());
    expect(storeValue(rsp).toString()).toBe('LICENCE-0000-EXAMPLE');
  });

  it('checks the status-wide observedGeneration when conditions carry none', () => {
    const xr = example('azure');
    const first = runFunction(request(xr), testDeps(1));
    const observed = observeAll(first);
    const secret = observed['kv-azure-secret'] as { metadata: Obj; status: Obj };
    secret.metadata.generation = 2;
    secret.status.observedGeneration = 1;
    secret.status.conditions = (secret.status.conditions as Obj[]).map((c) => {
      const copy = { ...c };
      delete copy.observedGeneration;
      return copy;
    });
    const rsp = runFunction(request(xr, { observed }), testDeps(1));
    const status = (rsp.desired?.composite?.resource as Obj).status as {
      targets: { ready: boolean }[];
    };
    expect(status.targets[0]?.ready).toBe(false);
  });
});
