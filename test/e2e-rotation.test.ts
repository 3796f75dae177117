/**
 * A canary rotation from version 1 to version 2, and a failing canary, driven end to end by a
 * sequence of `crossplane render` calls. Each call is fed the previous output as observed state,
 * with the status a real provider would report (generation, Ready/Synced, a new version id), and
 * the composite with the status the function wrote. Each step's output is kept in
 * _output/rotation-demo/ for the walk-through in README.md.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { ANNOTATION_ROTATE, ANNOTATION_STARTED_AT } from '../src/names.js';
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
import { example, ROOT, SHARED, onpremDocument, resourceKey } from './helpers.js';
import { observeOne, type SimOptions } from './provider-sim.js';

const DOC1 = onpremDocument(1);
const DOC2 = onpremDocument(2);
const DEMO = `${ROOT}_output/rotation-demo`;
const CANARY_KEY = 'aws-prod-aws-version';
const DENIED = 'AccessDeniedException: not authorized to perform secretsmanager:PutSecretValue';

let fn: RunningFunction;

beforeAll(async () => {
  rmSync(DEMO, { recursive: true, force: true });
  mkdirSync(DEMO, { recursive: true });
  fn = await startFunction();
});

afterAll(() => {
  fn.stop();
});

/** Crossplane between two renders: keeps the composite's status, providers apply the rest. */
class Loop {
  xr: Obj;
  observed = new Map<string, Obj>();
  out: Obj[] = [];
  step = 0;

  constructor(
    readonly name: string,
    xr: Obj,
  ) {
    this.xr = xr;
  }

  render(label: string, sim: SimOptions = {}): Obj[] {
    this.step += 1;
    const prefix = `${this.name}-${String(this.step).padStart(2, '0')}-${label}`;
    const xrFile = join(DEMO, `${prefix}-input.yaml`);
    writeDocs(xrFile, [this.xr]);
    const dir = join(DEMO, `${prefix}-observed`);
    mkdirSync(dir, { recursive: true });
    writeDocs(join(dir, 'observed.yaml'), [...this.observed.values()]);
    const args = this.observed.size > 0 ? [`--observed-resources=${dir}`] : [];
    this.out = render(fn.port, xrFile, args);
    writeDocs(join(DEMO, `${prefix}-output.yaml`), this.out);
    this.xr = { ...this.xr, status: xrOf(this.out).status };
    for (const d of composed(this.out)) {
      const key = resourceKey(d);
      this.observed.set(key, observeOne(key, d, this.observed.get(key), sim));
    }
    return this.out;
  }

  rotation(): { phase: string; version: number; reason: string } {
    return (this.xr.status as { rotation: never }).rotation;
  }

  pointedAt(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of composed(this.out)) {
      const fp = ((d.spec as Obj | undefined)?.forProvider ?? {}) as Record<
        string,
        { key?: string }
      >;
      const ref = fp.secretStringSecretRef ?? fp.valueSecretRef ?? fp.dataJsonSecretRef;
      if (ref?.key !== undefined)
        out[d.kind === 'SecretVersion' ? 'aws' : String(d.kind)] = ref.key;
    }
    return out;
  }

  store(): Record<string, string> {
    const s = composed(this.out).find((d) => resourceKey(d) === 'store');
    return (s?.data ?? {}) as Record<string, string>;
  }

  events(): [unknown, unknown][] {
    return results(this.out).map((r) => [r.severity, String(r.message).split(';')[0]]);
  }

  rotate(token: string): void {
    const meta = this.xr.metadata as Obj;
    const annotations = {
      ...(meta.annotations as Record<string, string>),
      [ANNOTATION_ROTATE]: token,
    };
    this.xr = { ...this.xr, metadata: { ...meta, annotations } };
  }
}

function startAtVersion1(name: string): Loop {
  const loop = new Loop(name, example('rotation-canary'));
  loop.render('create');
  loop.render('converged');
  expect(loop.rotation()).toMatchObject({ phase: 'Idle', version: 1 });
  loop.rotate('rotate-now');
  loop.render('staged');
  expect(loop.rotation()).toMatchObject({ phase: 'Staged', version: 2 });
  expect(loop.events()).toEqual([['SEVERITY_NORMAL', 'version 2 stored']]);
  expect(loop.pointedAt()).toEqual({
    aws: 'v1',
    Secret: 'v1',
    SecretV2: DOC1,
  });
  return loop;
}

describe('a canary rotation through crossplane render', () => {
  it('goes from version 1 to version 2, canary first', () => {
    const loop = startAtVersion1('canary');
    const v2 = loop.store().v2;
    expect(v2).toBeDefined();

    loop.render('canary');
    expect(loop.rotation().phase).toBe('Canary');
    expect(loop.pointedAt()).toEqual({ aws: 'v2', Secret: 'v1', SecretV2: DOC1 });

    loop.render('propagating');
    expect(loop.rotation().phase).toBe('Propagating');
    expect(loop.pointedAt()).toEqual({ aws: 'v2', Secret: 'v2', SecretV2: DOC2 });

    loop.render('completed');
    expect(loop.rotation()).toMatchObject({ phase: 'Idle', version: 2 });
    expect(loop.events()).toEqual([['SEVERITY_NORMAL', 'every target holds version 2']]);
    expect(loop.store().v2).toBe(v2);
    expect(loop.store().v1).toBeUndefined();

    const status = loop.xr.status as {
      targets: { heldVersion: number; ready: boolean }[];
      conditions: { type: string; status: string }[];
    };
    expect(status.targets.every((t) => t.ready && t.heldVersion === 2)).toBe(true);
    const byType = Object.fromEntries(status.conditions.map((c) => [c.type, c.status]));
    expect(byType).toMatchObject({ Ready: 'True', TargetsReady: 'True', RotationHealthy: 'True' });

    const file = join(DEMO, 'canary-validate.yaml');
    writeDocs(file, [...composed(loop.out), loop.xr]);
    const v = validate(DEMO, [`${SHARED}/crds`, 'apis/definition.yaml'], file);
    expect(v.stdout).toMatch(/0 failure cases/);
    expect(v.code).toBe(0);
  });

  it('fails a canary that misses its deadline and rolls the others back', () => {
    const loop = startAtVersion1('failing');
    const failing = { failing: new Map([[CANARY_KEY, DENIED]]) };
    loop.render('canary', failing);
    loop.render('canary-failing', failing);
    expect(loop.rotation().phase).toBe('Canary');
    expect(loop.rotation().reason).toContain(DENIED);

    // Thirty-one minutes pass: the store says when the rotation began.
    const store = loop.observed.get('store') as {
      metadata: { annotations: Record<string, string> };
    };
    const started = Date.parse(store.metadata.annotations[ANNOTATION_STARTED_AT] ?? '');
    store.metadata.annotations[ANNOTATION_STARTED_AT] = new Date(
      started - 31 * 60_000,
    ).toISOString();

    loop.render('deadline');
    expect(loop.rotation().phase).toBe('RollingBack');
    expect(loop.events()).toEqual([
      ['SEVERITY_WARNING', 'the rotation to version 2 passed its deadline'],
    ]);
    expect(String(results(loop.out)[0]?.message)).toContain(DENIED);
    expect(loop.pointedAt()).toEqual({ aws: 'v1', Secret: 'v1', SecretV2: DOC1 });

    loop.render('rolled-back');
    expect(loop.rotation()).toMatchObject({ phase: 'Failed', version: 1 });
    expect(loop.store().v2).toBeUndefined();
    const conditions = (loop.xr.status as { conditions: { type: string; reason: string }[] })
      .conditions;
    expect(conditions.find((c) => c.type === 'RotationHealthy')).toMatchObject({
      reason: 'Failed',
    });
  });
});
