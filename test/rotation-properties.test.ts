/**
 * Properties of the rotation state machine over random sequences of clock steps, provider
 * failures, tokens, lost status and unapplied responses.
 */
import { describe, expect, it } from '@jest/globals';
import { Severity } from '@crossplane-org/function-sdk-typescript';
import fc from 'fast-check';

import { ANNOTATION_ROTATE } from '../src/names.js';
import type { Obj } from '../src/observe.js';
import { at, Cluster, HOUR, MINUTE, plus } from './cluster.js';
import { example } from './helpers.js';

const KEYS = [
  'aws-prod-aws-version',
  'azure-prod-azure-secret',
  'vault-onprem-vault-secret',
  'pods-kubernetes-secret',
];

const action = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.integer({ min: 0, max: 2 * HOUR }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('jump' as const),
      ms: fc.integer({ min: 700 * HOUR, max: 800 * HOUR }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('fail' as const), keys: fc.subarray(KEYS) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('token' as const),
      token: fc.constantFrom('a', 'b', 'c'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose-status' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('no-apply' as const) }) },
);

const policy = fc.record({
  every: fc.constant('720h'),
  strategy: fc.constantFrom('Simultaneous', 'Canary'),
  deadline: fc.constantFrom('5m', '30m', '2h'),
  onFailure: fc.constantFrom('Hold', 'Rollback'),
});

function xrWith(p: { strategy: string } & Obj): Obj {
  const xr = example('rotation-canary');
  const rotation = p.strategy === 'Canary' ? { ...p, canary: 'aws-prod' } : p;
  return { ...xr, spec: { ...(xr.spec as Obj), rotation } };
}

function versionOf(key: string): string {
  return key.split('.')[0] ?? key;
}

describe('rotation properties', () => {
  it('values never change, targets only reference stored versions, the store stays bounded', () => {
    const phases = new Set<string>();
    fc.assert(
      fc.property(policy, fc.array(action, { minLength: 5, maxLength: 40 }), (p, actions) => {
        const c = new Cluster(xrWith(p));
        let now = at('2026-12-01T10:00:00.000Z');
        let failing = new Map<string, string>();
        const seen = new Map<string, string>();
        for (const a of [{ kind: 'tick' as const, ms: 0 }, ...actions]) {
          let apply = true;
          if (a.kind === 'tick' || a.kind === 'jump') now = plus(now, a.ms + MINUTE);
          if (a.kind === 'fail') failing = new Map(a.keys.map((k) => [k, `error on ${k}`]));
          if (a.kind === 'token') c.annotate(ANNOTATION_ROTATE, a.token);
          if (a.kind === 'lose-status') c.forgetStatus();
          if (a.kind === 'no-apply') apply = false;

          const observedStore = (c.observed.store?.data ?? undefined) as
            Record<string, string> | undefined;
          const rsp = c.reconcile(now, { failing, apply });
          expect(rsp.results.filter((r) => r.severity === Severity.SEVERITY_FATAL)).toEqual([]);
          const data = c.storeData();

          // A stored version's value never changes.
          for (const [k, v] of Object.entries(data)) {
            const before = seen.get(k);
            if (before !== undefined) expect(v).toBe(before);
            seen.set(k, v);
          }
          // Targets reference only versions the store holds, and already held when observed.
          for (const key of Object.values(c.pointedAt())) {
            expect(data[key]).toBeDefined();
            if (observedStore !== undefined) expect(observedStore[key]).toBeDefined();
          }
          // At most the previous and the new version are kept.
          const versions = Object.keys(data).filter((k) => /^v\d+$/.test(k));
          expect(versions.length).toBeLessThanOrEqual(2);

          // A converged rotation leaves every target on one version.
          const s = c.status();
          phases.add(s.rotation.phase);
          if (s.rotation.phase === 'Idle' && s.targets.every((t) => t.ready)) {
            const pointed = new Set(Object.values(c.pointedAt()).map(versionOf));
            expect([...pointed]).toEqual([`v${String(s.version)}`]);
            expect(s.targets.every((t) => t.heldVersion === s.version)).toBe(true);
          }
        }
      }),
      { numRuns: 150, seed: 20261204 },
    );
    // The generated sequences must reach every phase, or the properties prove little.
    expect([...phases].sort()).toEqual(
      ['Canary', 'Failed', 'Idle', 'Propagating', 'RollingBack', 'Staged'].sort(),
    );
  });
});
