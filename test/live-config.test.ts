/**
 * How live verification is set up from the pipeline step's input and credentials: refusals are
 * per target and name the setting; nothing here contacts a server.
 */
import { describe, expect, it } from '@jest/globals';
import { Severity } from '@crossplane-org/function-sdk-typescript';

import { audit } from '../src/audit/audit.js';
import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { planTargets } from '../src/plan.js';
import { parseSpec, type VerificationInput } from '../src/spec.js';
import { Engine } from '../src/verify/engine.js';
import { Adapters, planLive } from '../src/verify/live.js';
import {
  compositionInput,
  desiredObjects,
  example,
  request,
  storeValue,
  testDeps,
} from './helpers.js';

const EXEC_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users:
  - name: u
    user:
      exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: ["-c", "id"]}
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`;

function plan(spec: Obj) {
  const parsed = parseSpec(spec);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return planTargets(
    parsed.value,
    { apiVersion: 'secrets.fn.crossplatform.io/v1beta1', kind: 'Input' },
    { composite: { name: 'app', namespace: 'team-a' }, storeName: 'app.value-store' },
  ).targets;
}

describe('live verification setup', () => {
  it('refuses a kubeconfig whose user runs a command, naming why', () => {
    const config: VerificationInput = {
      ttl: '5m',
      budget: '10s',
      kubernetes: { credentials: 'kube', rate: 10, burst: 20, concurrency: 4 },
    };
    const lp = planLive(
      plan(example('kubernetes').spec as Obj),
      config,
      'team-a',
      { kube: { kubeconfig: Buffer.from(EXEC_KUBECONFIG) } },
      new Adapters(),
      { budgetMs: 1000, ttlMs: 1000 },
    );
    expect(lp.items).toEqual([]);
    const problems = [...lp.problems.values()];
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) {
      expect(p).toBe(
        'Kubernetes credentials: a kubeconfig user with an exec or auth-provider plugin is ' +
          'refused: it would run a command in the function pod',
      );
    }
  });

  it('malformed credentials are named without their content', () => {
    const config: VerificationInput = {
      ttl: '5m',
      budget: '10s',
      vault: {
        address: 'http://127.0.0.1:1',
        credentials: 'v',
        rate: 10,
        burst: 20,
        concurrency: 4,
      },
    };
    const lp = planLive(
      plan(example('vault').spec as Obj),
      config,
      'team-a',
      { v: { credentials: Buffer.from('{"token": SECRET-TOKEN-123') } },
      new Adapters(),
      { budgetMs: 1000, ttlMs: 1000 },
    );
    const [problem] = [...lp.problems.values()];
    expect(problem).toBe('Vault credentials: key "credentials" must hold a JSON object');
  });

  it('a zero budget or TTL is refused by the input schema', () => {
    for (const field of ['budget', 'ttl']) {
      const input = { ...compositionInput(), verification: { [field]: '0h0m0s' } };
      const rsp = runFunction(request(example('aws'), { input }), testDeps());
      const fatal = rsp.results.filter((r) => r.severity === Severity.SEVERITY_FATAL);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]?.message).toContain(`input.verification.${field}`);
    }
  });

  it('an origin on a platform the Composition does not read is a warning', () => {
    const xr = example('all-platforms');
    const spec = xr.spec as { targets: Obj[] };
    spec.targets = spec.targets.map((t) => (t.name === 'aws-prod' ? { ...t, origin: true } : t));
    const rsp = runFunction(request(xr), testDeps());
    expect(rsp.results.find((r) => r.reason === 'CheckSpec')?.message).toBe(
      'spec.targets[0].origin: has no effect: the Composition does not read aws ' +
        '(input.verification.aws is not set)',
    );
  });
});

describe('audit rows', () => {
  it('never carry a stored value, even when a platform quotes it in an error', async () => {
    const xr = example('vault');
    const rsp = runFunction(request(xr, { input: null }), testDeps());
    const store = desiredObjects(rsp).store as Obj;
    const value = storeValue(rsp).toString('utf8');
    const echoing = {
      platform: 'vault' as const,
      observe: (targets: readonly { id: string }[]) =>
        Promise.resolve(
          new Map(targets.map((t) => [t.id, { state: 'unknown' as const, error: `bad ${value}` }])),
        ),
    };
    const rows = await audit([xr], {
      input: {
        apiVersion: 'secrets.fn.crossplatform.io/v1beta1',
        kind: 'Input',
        verification: {
          ttl: '5m',
          budget: '10s',
          vault: {
            address: 'http://127.0.0.1:1',
            credentials: 'v',
            rate: 10,
            burst: 20,
            concurrency: 4,
          },
        },
      },
      credentials: { v: { credentials: Buffer.from('{"token":"t"}') } },
      engine: new Engine({ unknownTtlMs: 0 }),
      adapters: new Adapters(() => echoing),
      concurrency: 1,
      timeoutMs: 1000,
      store: () => Promise.resolve(store),
    });
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.state).toBe('Unknown');
      expect(r.message.startsWith('bad ')).toBe(true);
      expect(JSON.stringify(r)).not.toContain(value);
    }
  });
});
