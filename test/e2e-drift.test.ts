/**
 * Drift and deletion end to end through `crossplane render`: Alert and Orphan as management
 * policies, a drifted observed state rendered into the right status and events, and every
 * output validated against the providers' CRDs and the XRD.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Obj } from '../src/observe.js';
import {
  composed,
  render,
  results,
  startFunction,
  validate,
  writeDocs,
  xrOf,
  type RunningFunction,
} from './crossplane-cli.js';
import { SHARED, resourceKey } from './helpers.js';
import { observeOne } from './provider-sim.js';

let fn: RunningFunction;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cps-e2e-drift-'));
  fn = await startFunction();
});

afterAll(() => {
  fn.stop();
  rmSync(work, { recursive: true, force: true });
});

function validated(name: string, docs: Obj[]): void {
  const file = join(work, `${name}.yaml`);
  writeDocs(file, docs);
  const v = validate(work, [`${SHARED}/crds`, 'apis/definition.yaml'], file);
  expect(v.stdout).toMatch(/0 failure cases/);
  expect(v.code).toBe(0);
}

function policies(out: Obj[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const d of composed(out)) {
    if (d.apiVersion !== 'v1') o[resourceKey(d)] = (d.spec as Obj).managementPolicies;
  }
  return o;
}

describe('policies in rendered managed resources', () => {
  it('Enforce and Delete: every managed resource may do everything', () => {
    const out = render(fn.port, 'examples/all-platforms.yaml');
    expect(new Set(Object.values(policies(out)).map((p) => JSON.stringify(p)))).toEqual(
      new Set(['["*"]']),
    );
    validated('enforce-delete', [...composed(out), xrOf(out)]);
  });

  it('Alert and Orphan: no Update and no Delete, also for the Kubernetes target', () => {
    const out = render(fn.port, 'examples/alert-orphan.yaml');
    const p = policies(out);
    expect(Object.keys(p).sort()).toEqual([
      'aws-aws-secret',
      'aws-aws-version',
      'azure-azure-secret',
      'pods-kubernetes-secret',
      'vault-vault-secret',
    ]);
    for (const v of Object.values(p)) expect(v).toEqual(['Observe', 'Create', 'LateInitialize']);
    validated('alert-orphan', [...composed(out), xrOf(out)]);
  });
});

describe('a drifted observed state', () => {
  it.each([
    ['examples/all-platforms.yaml', 'Healing'],
    ['examples/alert-orphan.yaml', 'Drifted'],
  ])('%s is reported as %s', (example, state) => {
    const dir = join(work, `drift-${state}`);
    mkdirSync(dir, { recursive: true });
    const observed = new Map<string, Obj>();
    let xr: Obj = {};
    const once = (extra: string[] = []) => {
      const xrFile = join(dir, 'xr.yaml');
      if (Object.keys(xr).length > 0) writeDocs(xrFile, [xr]);
      writeDocs(join(dir, 'observed.yaml'), [...observed.values()]);
      const out = render(
        fn.port,
        Object.keys(xr).length > 0 ? xrFile : example,
        observed.size > 0
          ? [`--observed-resources=${join(dir, 'observed.yaml')}`, ...extra]
          : extra,
      );
      // With --include-full-xr the output composite carries spec, metadata and the new status.
      xr = xrOf(out);
      return out;
    };
    const apply = (out: Obj[]) => {
      for (const d of composed(out))
        observed.set(resourceKey(d), observeOne(resourceKey(d), d, observed.get(resourceKey(d))));
    };
    apply(once());
    apply(once());
    once();

    // Out of band: AWSCURRENT moved in the console, a new Key Vault version, an edited Vault key.
    const aws = [...observed.values()].find((o) => o.kind === 'SecretVersion') as { status: Obj };
    const versionId = (aws.status.atProvider as Obj).versionId;
    aws.status = { ...aws.status, atProvider: { versionId, versionStages: ['AWSPREVIOUS'] } };
    const azure = [...observed.values()].find((o) =>
      String(o.apiVersion).startsWith('keyvault.'),
    ) as { status: Obj };
    azure.status = { ...azure.status, atProvider: { version: 'set-in-portal' } };

    const out = once();
    const targets = (xrOf(out).status as { targets: { name: string; drift: Obj }[] }).targets;
    const byName = Object.fromEntries(targets.map((t) => [t.name, t.drift]));
    const awsName = targets[0]?.name ?? '';
    const azureName = targets[1]?.name ?? '';
    expect(byName[awsName]).toMatchObject({ state, reason: 'CurrentLabelMoved' });
    expect(byName[azureName]).toMatchObject({ state, reason: 'VersionMoved' });
    expect(results(out).map((r) => [r.severity, String(r.message).split(':')[0]])).toEqual([
      ['SEVERITY_WARNING', `${awsName} (aws)`],
      ['SEVERITY_WARNING', `${azureName} (azure)`],
    ]);
    const conditions = (xrOf(out).status as { conditions: { type: string; reason: string }[] })
      .conditions;
    expect(conditions.find((c) => c.type === 'TargetsInSync')).toMatchObject({ reason: state });
    validated(`drifted-${state}`, [...composed(out), xrOf(out)]);
  });
});
