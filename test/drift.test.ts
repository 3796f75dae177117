/**
 * The judgement of each target from observed evidence (in sync, each kind of drift, each known
 * error, transient errors, Alert and Enforce), and what drift and deletion policies emit.
 */
import { describe, expect, it } from '@jest/globals';
import { Severity } from '@crossplane-org/function-sdk-typescript';

import type { Obj } from '../src/observe.js';
import { at, Cluster, MINUTE, plus } from './cluster.js';
import { desiredObjects, example } from './helpers.js';

const T0 = at('2026-12-01T10:00:00.000Z');

/**
 * Under Alert or Orphan the Kubernetes target must go through provider-kubernetes (a Secret
 * composed directly is always applied and deleted by Crossplane), so it names a config.
 */
function xrWith(
  spec: Obj,
  viaProvider = spec.drift !== undefined || spec.deletion !== undefined,
): Obj {
  const xr = example('all-platforms');
  const base = xr.spec as { targets: Obj[] };
  const targets = base.targets.map((t) =>
    t.name === 'pods' && viaProvider ? { ...t, providerConfigRef: { name: 'in-cluster' } } : t,
  );
  return { ...xr, spec: { ...base, targets, ...spec } };
}

/** Four targets, created and converged, then one call more to record evidence. */
function converged(spec: Obj = {}, viaProvider?: boolean): Cluster {
  const c = new Cluster(xrWith(spec, viaProvider));
  c.reconcile(T0);
  c.reconcile(plus(T0, MINUTE));
  c.reconcile(plus(T0, 2 * MINUTE));
  return c;
}

interface Drift {
  state: string;
  reason: string;
  message: string;
}

function drift(c: Cluster, target: string): Drift | undefined {
  const targets = (c.xr.status as { targets: { name: string; drift: Drift }[] }).targets;
  return targets.find((x) => x.name === target)?.drift;
}

function warnings(c: Cluster): (string | undefined)[] {
  return (c.last?.results ?? [])
    .filter((r) => r.severity === Severity.SEVERITY_WARNING)
    .map((r) => r.reason);
}

function setAt(c: Cluster, key: string, atProvider: Obj): void {
  const o = c.observed[key] as { status: Obj };
  o.status = { ...o.status, atProvider };
}

function fail(c: Cluster, key: string, message: string): void {
  const o = c.observed[key] as { status: Obj; metadata: Obj };
  o.status = {
    ...o.status,
    conditions: [
      { type: 'Ready', status: 'False', reason: 'Unavailable', observedGeneration: 1 },
      {
        type: 'Synced',
        status: 'False',
        reason: 'ReconcileError',
        message,
        observedGeneration: 1,
      },
    ],
  };
}

const later = (n: number) => plus(T0, (3 + n) * MINUTE);

describe('in sync', () => {
  it('every platform, judged from evidence', () => {
    const c = converged();
    for (const t of ['aws-prod', 'azure-prod', 'vault-onprem', 'pods']) {
      expect([t, drift(c, t)?.state]).toEqual([t, 'InSync']);
    }
    const inSync = c.last?.conditions.find((k) => k.type === 'TargetsInSync');
    expect(inSync).toMatchObject({ reason: 'InSync' });
  });
});

describe('drift per platform', () => {
  it.each([
    {
      name: 'AWS: AWSCURRENT moved to a version written in the console',
      target: 'aws-prod',
      change: (c: Cluster) => {
        setAt(c, 'aws-prod-aws-version', {
          versionId: 'aws-aws-prod-aws-version-g1',
          versionStages: ['AWSPREVIOUS'],
        });
      },
      reason: 'CurrentLabelMoved',
    },
    {
      name: 'Azure: a new version appeared without a change of ours',
      target: 'azure-prod',
      change: (c: Cluster) => {
        setAt(c, 'azure-prod-azure-secret', { version: 'written-in-portal' });
      },
      reason: 'VersionMoved',
    },
    {
      name: 'Vault: the metadata version moved',
      target: 'vault-onprem',
      change: (c: Cluster) => {
        setAt(c, 'vault-onprem-vault-secret', { metadata: { version: '7' } });
      },
      reason: 'VersionMoved',
    },
    {
      name: 'Kubernetes: the data was edited',
      target: 'pods',
      change: (c: Cluster) => {
        const edited = { password: Buffer.from('edited-by-hand').toString('base64') };
        const o = c.observed['pods-kubernetes-secret'] as Obj;
        if (o.kind === 'Object') setAt(c, 'pods-kubernetes-secret', { manifest: { data: edited } });
        else o.data = edited;
      },
      reason: 'DataDiffers',
    },
  ])('$name', ({ target, change, reason }) => {
    for (const [policy, state] of [
      ['Enforce', 'Healing'],
      ['Alert', 'Drifted'],
    ]) {
      const c = converged({ drift: { policy } });
      change(c);
      c.reconcile(later(1), { apply: false });
      expect([policy, drift(c, target)?.state, drift(c, target)?.reason]).toEqual([
        policy,
        state,
        reason,
      ]);
      expect(warnings(c)).toEqual(['DriftDetected']);
      expect(c.last?.conditions.find((k) => k.type === 'TargetsInSync')).toMatchObject({
        reason: state,
      });
      // Reported once, not on every call.
      c.reconcile(later(2), { apply: false });
      expect(drift(c, target)?.state).toBe(state);
      expect(warnings(c)).toEqual([]);
    }
  });

  it('Enforce: a moved version is healed when the provider writes again', () => {
    const c = converged();
    setAt(c, 'azure-prod-azure-secret', { version: 'written-in-portal' });
    c.reconcile(later(1), { apply: false });
    expect(drift(c, 'azure-prod')?.state).toBe('Healing');
    setAt(c, 'azure-prod-azure-secret', { version: 'rewritten-by-provider' });
    c.reconcile(later(2), { apply: false });
    expect(drift(c, 'azure-prod')).toMatchObject({ state: 'InSync', reason: 'Healed' });
  });

  it('Enforce: after a provider poll with no further move, the target is presumed healed', () => {
    const c = converged();
    setAt(c, 'vault-onprem-vault-secret', { metadata: { version: '7' } });
    c.reconcile(later(1), { apply: false });
    c.reconcile(later(5), { apply: false });
    expect(drift(c, 'vault-onprem')?.state).toBe('Healing');
    c.reconcile(later(12), { apply: false });
    expect(drift(c, 'vault-onprem')).toMatchObject({ state: 'InSync', reason: 'PresumedHealed' });
  });

  it('Alert: a moved version stays reported', () => {
    const c = converged({ drift: { policy: 'Alert' } });
    setAt(c, 'vault-onprem-vault-secret', { metadata: { version: '7' } });
    c.reconcile(later(1), { apply: false });
    c.reconcile(later(60), { apply: false });
    expect(drift(c, 'vault-onprem')).toMatchObject({ state: 'Drifted', reason: 'VersionMoved' });
  });
});

describe('known platform errors', () => {
  it.each([
    [
      'azure-prod',
      'azure-prod-azure-secret',
      'creating Key Vault Secret: (ObjectIsDeletedButRecoverable) Secret db-password is ' +
        'currently in a deleted but recoverable state',
      'Failed',
      'SoftDeleted',
    ],
    [
      'aws-prod',
      'aws-prod-aws-secret',
      'InvalidRequestException: You can\u2019t create this secret because a secret with this ' +
        'name is already scheduled for deletion.',
      'Failed',
      'ScheduledForDeletion',
    ],
    [
      'vault-onprem',
      'vault-onprem-vault-secret',
      'error writing secret: Code: 400. Errors: * check-and-set parameter required for this call',
      'Failed',
      'CheckAndSetRequired',
    ],
    [
      'azure-prod',
      'azure-prod-azure-secret',
      'unexpected status 403 (Forbidden): caller is not authorized',
      'Failed',
      'ProviderError',
    ],
  ])('%s: %s', (target, key, message, state, reason) => {
    const c = converged();
    fail(c, key, message);
    c.reconcile(later(1), { apply: false });
    expect(drift(c, target)).toMatchObject({ state, reason });
    expect(drift(c, target)?.message).toContain(message);
    expect(warnings(c)).toEqual(['TargetFailed']);
  });

  it.each([
    ['ThrottlingException: Rate exceeded', 'Throttled'],
    ['context deadline exceeded', 'Unreachable'],
  ])('transient "%s" is never drift and never regenerates', (message) => {
    const c = converged();
    const before = c.storeData().v1;
    fail(c, 'aws-prod-aws-version', message);
    c.reconcile(later(1), { apply: false });
    expect(drift(c, 'aws-prod')?.state).toBe('InSync');
    expect(warnings(c)).toEqual([]);
    expect(c.storeData().v1).toBe(before);
  });
});

describe('drift and deletion policies', () => {
  const policiesOf = (c: Cluster) =>
    Object.entries(desiredObjects(c.last ?? ({} as never)))
      .filter(([k]) => k !== 'store' && k !== 'pods-kubernetes-secret')
      .map(([, o]) => (o.spec as Obj).managementPolicies);

  it.each([
    [{}, ['*']],
    [{ deletion: { policy: 'Orphan' } }, ['Observe', 'Create', 'Update', 'LateInitialize']],
    [{ drift: { policy: 'Alert' } }, ['Observe', 'Create', 'Delete', 'LateInitialize']],
    [
      { drift: { policy: 'Alert' }, deletion: { policy: 'Orphan' } },
      ['Observe', 'Create', 'LateInitialize'],
    ],
  ])('%j', (spec, expected) => {
    const c = new Cluster(xrWith(spec));
    c.reconcile(T0);
    for (const p of policiesOf(c)) expect(p).toEqual(expected);
  });

  it('Alert and Orphan refuse a Secret composed directly (Crossplane applies, deletes it)', () => {
    for (const spec of [{ drift: { policy: 'Alert' } }, { deletion: { policy: 'Orphan' } }]) {
      const c = new Cluster(xrWith(spec, false));
      c.reconcile(T0);
      expect(c.last?.results.map((r) => r.message)).toEqual([
        expect.stringContaining(
          'spec.targets[3].kubernetes: ' +
            (spec.drift ? 'drift policy Alert' : 'deletion policy Orphan') +
            ' cannot hold for a Secret composed directly',
        ),
      ]);
    }
  });

  it('renaming a Secret composed directly is refused too', () => {
    const c = converged({}, false);
    const spec = c.xr.spec as { targets: Obj[] };
    const targets = spec.targets.map((t) =>
      t.name === 'pods' ? { ...t, kubernetes: { name: 'renamed', key: 'password' } } : t,
    );
    c.xr = { ...c.xr, spec: { ...spec, targets } };
    c.reconcile(later(1), { apply: false });
    expect(c.last?.results[0]?.message).toContain('cannot change metadata.name of Secret');
  });

  it('switching Enforce to Alert changes policies only: same resources, same names', () => {
    const c = converged({}, true);
    const before = desiredObjects(c.last ?? ({} as never));
    c.xr = { ...c.xr, spec: { ...(c.xr.spec as Obj), drift: { policy: 'Alert' } } };
    c.reconcile(later(1));
    const after = desiredObjects(c.last ?? ({} as never));
    expect(Object.keys(after)).toEqual(Object.keys(before));
    for (const k of Object.keys(after)) {
      expect((after[k]?.metadata as Obj).name).toBe((before[k]?.metadata as Obj).name);
    }
  });

  it('Orphan: a removed target first loses its Delete policy, then leaves', () => {
    const c = converged({ deletion: { policy: 'Orphan' } });
    // The observed resources were created under Delete, then the policy changed to Orphan and
    // the target was removed in the same edit: the worst case.
    for (const k of ['azure-prod-azure-secret']) {
      ((c.observed[k] as Obj).spec as Obj).managementPolicies = ['*'];
    }
    const spec = c.xr.spec as { targets: Obj[] };
    c.xr = {
      ...c.xr,
      spec: { ...spec, targets: spec.targets.filter((t) => t.name !== 'azure-prod') },
    };
    c.reconcile(later(1));
    const retiring = desiredObjects(c.last ?? ({} as never))['azure-prod-azure-secret'];
    expect((retiring?.spec as Obj).managementPolicies).toEqual(['Observe']);
    c.reconcile(later(2));
    expect(desiredObjects(c.last ?? ({} as never))['azure-prod-azure-secret']).toBeUndefined();
  });

  it('Delete: a removed target leaves at once, and its provider deletes the secret', () => {
    const c = converged();
    const spec = c.xr.spec as { targets: Obj[] };
    c.xr = {
      ...c.xr,
      spec: { ...spec, targets: spec.targets.filter((t) => t.name !== 'azure-prod') },
    };
    c.reconcile(later(1));
    expect(desiredObjects(c.last ?? ({} as never))['azure-prod-azure-secret']).toBeUndefined();
  });

  it.each([
    ['aws-prod', 'aws', { name: 'team-a/renamed' }, 'spec.forProvider.name'],
    ['aws-prod', 'aws', { region: 'us-east-1' }, 'spec.forProvider.region'],
    ['azure-prod', 'azure', { name: 'renamed' }, 'spec.forProvider.name'],
    ['vault-onprem', 'vault', { path: 'team-a/renamed' }, 'spec.forProvider.name'],
    ['vault-onprem', 'vault', { kvVersion: 1 }, 'kind'],
    ['pods', 'kubernetes', { name: 'renamed' }, 'spec.forProvider.manifest.metadata.name'],
  ])('changing %s %s %j is refused: %s', (target, platform, change, field) => {
    const c = converged({ deletion: { policy: 'Orphan' } });
    const spec = c.xr.spec as { targets: Obj[] };
    const targets = spec.targets.map((t) =>
      t.name === target ? { ...t, [platform]: { ...(t[platform] as Obj), ...change } } : t,
    );
    c.xr = { ...c.xr, spec: { ...spec, targets } };
    c.reconcile(later(1), { apply: false });
    const fatal = c.last?.results ?? [];
    expect(fatal.map((r) => r.severity)).toEqual([Severity.SEVERITY_FATAL]);
    expect(fatal[0]?.message).toContain(`cannot change ${field}`);
    expect(fatal[0]?.message).toContain('add a target with the new identity');
    expect(c.last?.desired?.resources).toEqual({});
  });
});
