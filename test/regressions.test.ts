/**
 * Cases found by trying to break rotation, drift and deletion, kept so they stay fixed.
 */
import { describe, expect, it } from '@jest/globals';
import { Severity } from '@crossplane-org/function-sdk-typescript';

import {
  ANNOTATION_FAILED_VERSION,
  ANNOTATION_ROTATE,
  ANNOTATION_STARTED_AT,
} from '../src/names.js';
import type { Obj } from '../src/observe.js';
import { SOURCE_REQUIREMENT } from '../src/resolve.js';
import { at, Cluster, HOUR, MINUTE, plus } from './cluster.js';
import { desiredObjects, example, loadDoc, ROOT } from './helpers.js';

const T0 = at('2026-12-01T10:00:00.000Z');
const CANARY_KEY = 'aws-prod-aws-version';

const reasons = (c: Cluster) => (c.last?.results ?? []).map((r) => r.reason);
const severities = (c: Cluster) => (c.last?.results ?? []).map((r) => r.severity);

function annotations(o: Obj | undefined): Record<string, string> {
  return ((o?.metadata as Obj | undefined)?.annotations ?? {}) as Record<string, string>;
}

function failing(c: Cluster, key: string, message: string): void {
  const o = c.observed[key] as { status: Obj };
  o.status = {
    ...o.status,
    conditions: [
      { type: 'Ready', status: 'False', reason: 'Unavailable', observedGeneration: 1 },
      { type: 'Synced', status: 'False', reason: 'ReconcileError', message, observedGeneration: 1 },
    ],
  };
}

function withSpec(c: Cluster, spec: Obj): void {
  c.xr = { ...c.xr, spec: { ...(c.xr.spec as Obj), ...spec } };
}

function converged(name = 'rotation-canary'): Cluster {
  const c = new Cluster(example(name));
  c.reconcile(T0);
  c.reconcile(plus(T0, MINUTE));
  c.reconcile(plus(T0, 2 * MINUTE));
  return c;
}

describe('a lost store', () => {
  it('is refused while targets show a written value, even when their providers fail', () => {
    const c = converged('aws');
    delete c.observed.store;
    failing(c, 'aws-aws-version', 'cannot resolve secret reference: Secret not found');
    c.reconcile(plus(T0, 3 * MINUTE), { apply: false });
    expect(severities(c)).toEqual([Severity.SEVERITY_FATAL]);
    failing(c, 'aws-aws-version', 'ThrottlingException: Rate exceeded');
    c.reconcile(plus(T0, 4 * MINUTE), { apply: false });
    expect(severities(c)).toEqual([Severity.SEVERITY_FATAL]);
    expect(c.last?.desired?.resources).toEqual({});
  });
});

describe('canary', () => {
  it('a transient error on the canary during propagation pulls no target back', () => {
    const c = converged();
    c.annotate(ANNOTATION_ROTATE, 'go');
    c.reconcile(plus(T0, 10 * MINUTE));
    c.reconcile(plus(T0, 11 * MINUTE));
    c.reconcile(plus(T0, 12 * MINUTE), {
      failing: new Map([['vault-onprem-vault-secret', 'permission denied']]),
    });
    expect(c.status().rotation.phase).toBe('Propagating');
    failing(c, CANARY_KEY, 'ThrottlingException: Rate exceeded');
    c.reconcile(plus(T0, 13 * MINUTE), { apply: false });
    expect(c.status().rotation.phase).toBe('Propagating');
    expect(Object.values(c.pointedAt()).every((k) => k.startsWith('v2'))).toBe(true);
  });

  it('changing the canary mid-propagation pulls no target back', () => {
    const c = converged();
    c.annotate(ANNOTATION_ROTATE, 'go');
    c.reconcile(plus(T0, 10 * MINUTE));
    c.reconcile(plus(T0, 11 * MINUTE));
    c.reconcile(plus(T0, 12 * MINUTE), { apply: false });
    expect(c.status().rotation.phase).toBe('Propagating');
    withSpec(c, {
      rotation: { every: '720h', strategy: 'Canary', canary: 'pods', deadline: '30m' },
    });
    c.reconcile(plus(T0, 13 * MINUTE), { apply: false });
    expect(Object.values(c.pointedAt()).every((k) => k.startsWith('v2'))).toBe(true);
  });
});

describe('fromSecret', () => {
  it('a source whose rotation was rolled back is not retried on its own', () => {
    const source = loadDoc(`${ROOT}examples/required/licence.yaml`) as {
      data: Record<string, string>;
    };
    const c = new Cluster(example('from-secret'));
    withSpec(c, { rotation: { deadline: '5m', onFailure: 'Rollback' } });
    c.required = { [SOURCE_REQUIREMENT]: [source] };
    c.reconcile(T0);
    c.reconcile(plus(T0, MINUTE));
    const changed = structuredClone(source);
    changed.data.licence = Buffer.from('LICENCE-0001-RENEWED').toString('base64');
    c.required = { [SOURCE_REQUIREMENT]: [changed] };
    const fail = { failing: new Map([['aws-aws-version', 'AccessDeniedException']]) };
    c.reconcile(plus(T0, 2 * MINUTE), fail);
    c.reconcile(plus(T0, 3 * MINUTE), fail);
    c.reconcile(plus(T0, 8 * MINUTE));
    c.reconcile(plus(T0, 9 * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Failed', version: 1 });
    for (let i = 10; i < 60; i += 5) c.reconcile(plus(T0, i * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Failed', version: 1 });
    expect(reasons(c)).toEqual([]);
    c.annotate(ANNOTATION_ROTATE, 'retry');
    c.reconcile(plus(T0, HOUR));
    expect(c.status().rotation).toMatchObject({ phase: 'Staged', version: 3 });
  });
});

describe('a hand-edited store', () => {
  it('a huge failed-version is ignored rather than producing an unreadable store', () => {
    const c = converged();
    annotations(c.observed.store)[ANNOTATION_FAILED_VERSION] = '999999999';
    annotations(c.observed.store)['secrets.crossplatform.io/failed-at'] = T0.toISOString();
    c.annotate(ANNOTATION_ROTATE, 'go');
    c.reconcile(plus(T0, 10 * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Staged', version: 2 });
    c.reconcile(plus(T0, 11 * MINUTE));
    expect(severities(c)).not.toContain(Severity.SEVERITY_FATAL);
  });

  it('a rotation start in the future does not put the deadline out of reach', () => {
    const c = converged();
    c.annotate(ANNOTATION_ROTATE, 'go');
    c.reconcile(plus(T0, 10 * MINUTE));
    annotations(c.observed.store)[ANNOTATION_STARTED_AT] = '2099-01-01T00:00:00.000Z';
    const fail = { failing: new Map([[CANARY_KEY, 'AccessDeniedException']]) };
    c.reconcile(plus(T0, 11 * MINUTE), fail);
    c.reconcile(plus(T0, 12 * MINUTE), fail);
    c.reconcile(plus(T0, 50 * MINUTE), fail);
    expect(['RollingBack', 'Failed']).toContain(c.status().rotation.phase);
  });
});

describe('changes of our own are not drift', () => {
  it('a new Azure contentType makes the provider write: no drift', () => {
    const c = converged();
    const spec = c.xr.spec as { targets: Obj[] };
    const targets = spec.targets.map((t) =>
      t.name === 'azure-prod'
        ? { ...t, azure: { ...(t.azure as Obj), contentType: 'text/plain' } }
        : t,
    );
    withSpec(c, { targets });
    c.reconcile(plus(T0, 3 * MINUTE));
    c.reconcile(plus(T0, 4 * MINUTE));
    expect(reasons(c)).toEqual([]);
    const t = (c.xr.status as { targets: { name: string; drift: { state: string } }[] }).targets;
    expect(t.find((x) => x.name === 'azure-prod')?.drift.state).toBe('InSync');
  });

  it('renaming the Vault key changes the managed resource, so the provider writes it', () => {
    const c = converged();
    const before = c.pointedAt()['vault-onprem-vault-secret'];
    const spec = c.xr.spec as { targets: Obj[] };
    const targets = spec.targets.map((t) =>
      t.name === 'vault-onprem' ? { ...t, vault: { ...(t.vault as Obj), key: 'pw' } } : t,
    );
    withSpec(c, { targets });
    c.reconcile(plus(T0, 3 * MINUTE));
    expect(c.pointedAt()['vault-onprem-vault-secret']).not.toBe(before);
    c.reconcile(plus(T0, 4 * MINUTE));
    expect(reasons(c)).toEqual([]);
  });
});

describe('renaming a target', () => {
  const rename = (c: Cluster) => {
    const spec = c.xr.spec as { targets: Obj[] };
    const targets = spec.targets.map((t) =>
      t.name === 'azure-prod' ? { ...t, name: 'azure-main' } : t,
    );
    withSpec(c, { targets });
  };

  it('under Delete is refused: removing the old target would delete the secret', () => {
    const c = converged();
    rename(c);
    c.reconcile(plus(T0, 3 * MINUTE), { apply: false });
    expect(severities(c)).toEqual([Severity.SEVERITY_FATAL]);
    expect(c.last?.results[0]?.message).toContain('manages for a target being removed');
  });

  it('under Orphan is allowed: the old resource retires without deleting', () => {
    const xr = example('rotation-canary');
    const spec = xr.spec as { targets: Obj[] };
    const targets = spec.targets.map((t) =>
      t.name === 'pods' ? { ...t, providerConfigRef: { name: 'in-cluster' } } : t,
    );
    const c = new Cluster({ ...xr, spec: { ...spec, targets, deletion: { policy: 'Orphan' } } });
    c.reconcile(T0);
    c.reconcile(plus(T0, MINUTE));
    rename(c);
    c.reconcile(plus(T0, 3 * MINUTE), { apply: false });
    expect(severities(c)).not.toContain(Severity.SEVERITY_FATAL);
    expect(desiredObjects(c.last ?? ({} as never))['azure-main-azure-secret']).toBeDefined();
  });

  it('a new Azure provider configuration is refused like any identity change', () => {
    const c = converged();
    const spec = c.xr.spec as { targets: Obj[] };
    const targets = spec.targets.map((t) =>
      t.name === 'azure-prod' ? { ...t, providerConfigRef: { name: 'other-tenant' } } : t,
    );
    withSpec(c, { targets });
    c.reconcile(plus(T0, 3 * MINUTE), { apply: false });
    expect(c.last?.results[0]?.message).toContain('cannot change spec.providerConfigRef');
  });
});

describe('a failed rotation', () => {
  it('is announced once, not on every call', () => {
    const c = converged();
    c.annotate(ANNOTATION_ROTATE, 'go');
    c.reconcile(plus(T0, 10 * MINUTE));
    const fail = { failing: new Map([[CANARY_KEY, 'AccessDeniedException']]) };
    c.reconcile(plus(T0, 11 * MINUTE), fail);
    c.reconcile(plus(T0, 40 * MINUTE), fail);
    expect(reasons(c)).toContain('RotationFailed');
    c.reconcile(plus(T0, 41 * MINUTE), fail);
    expect(reasons(c)).not.toContain('RotationFailed');
  });
});
