/**
 * End to end through the real Crossplane CLI (built by scripts/install-crossplane-cli.sh):
 * render every example against the running function, render again with the first output as
 * observed state, validate the output against the CRDs and the XRD, and build both packages.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Obj } from '../src/observe.js';
import {
  cli,
  composed,
  render as renderWith,
  results,
  startFunction,
  validate as validateIn,
  writeDocs,
  xrOf,
  type RunningFunction,
} from './crossplane-cli.js';
import { asObserved, ROOT, SHARED } from './helpers.js';

let fn: RunningFunction;
let work: string;

const render = (xr: string, extra: string[] = []): Obj[] =>
  renderWith(fn.port, `examples/${xr}.yaml`, extra);
const validate = (extensions: string[], resources: string) =>
  validateIn(work, extensions, resources);
const storeOf = (out: Obj[]) =>
  composed(out).find((d) => String((d.metadata as Obj).name).endsWith('.value-store')) as {
    data: Record<string, string>;
  };

const CRDS = `${SHARED}/crds`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cps-e2e-'));
  fn = await startFunction();
});

afterAll(() => {
  fn.stop();
  rmSync(work, { recursive: true, force: true });
});

const EXAMPLES: [string, string[]][] = [
  ['all-platforms', []],
  ['aws', []],
  ['azure', []],
  ['vault', []],
  ['kubernetes', []],
  ['from-secret', ['--required-resources=examples/required/licence.yaml']],
];

describe('crossplane render', () => {
  it.each(EXAMPLES)('%s: renders, re-renders without regenerating, validates', (name, extra) => {
    const first = render(name, extra);
    expect(results(first).map((r) => [r.severity, String(r.message).split(' and ')[0]])).toEqual([
      [
        'SEVERITY_NORMAL',
        name === 'from-secret'
          ? 'version 1 copied from spec.value.fromSecret'
          : 'version 1 generated',
      ],
    ]);
    const firstStore = storeOf(first);
    expect(firstStore.data.v1).toBeDefined();

    // Feed the output back as observed state, with the status real providers would report.
    const observedDir = join(work, `observed-${name}`);
    mkdirSync(observedDir, { recursive: true });
    const observed = composed(first).map((d) => asObserved(d));
    writeDocs(join(observedDir, 'observed.yaml'), observed);
    const second = render(name, [...extra, `--observed-resources=${observedDir}`]);

    expect(results(second)).toEqual([]);
    expect(storeOf(second).data).toEqual(firstStore.data);
    const status = xrOf(second).status as {
      version: number;
      targets: { ready: boolean; heldVersion: number }[];
      conditions: { type: string; status: string }[];
    };
    expect(status.version).toBe(1);
    expect(status.targets.every((t) => t.ready && t.heldVersion === 1)).toBe(true);
    const byType = Object.fromEntries(status.conditions.map((c) => [c.type, c.status]));
    expect(byType).toMatchObject({ Ready: 'True', ValueStored: 'True', TargetsReady: 'True' });

    const outFile = join(work, `rendered-${name}.yaml`);
    const toValidate = [...composed(first), xrOf(second)];
    writeDocs(outFile, toValidate);
    const v = validate([CRDS, 'apis/definition.yaml'], outFile);
    expect(v.stdout).toMatch(/0 failure cases/);
    expect(v.code).toBe(0);
  });
});

describe('crossplane beta validate', () => {
  it('rejects every bad example against the XRD', () => {
    const bad = readdirSync(`${ROOT}examples/bad`).filter((f) => f.endsWith('.yaml'));
    for (const f of bad) {
      const v = validate(['apis/definition.yaml'], `examples/bad/${f}`);
      expect([f, v.code]).toEqual([f, 1]);
      expect(v.stdout).toMatch(/\[x\] schema validation error/);
    }
  });

  it('accepts the XRD and the Composition against Crossplane CRDs', () => {
    const crds = [
      `${CRDS}/crossplane__apiextensions.crossplane.io_compositeresourcedefinitions.yaml`,
      `${CRDS}/crossplane__apiextensions.crossplane.io_compositions.yaml`,
    ];
    for (const f of ['apis/definition.yaml', 'apis/composition.yaml']) {
      const v = validate(crds, f);
      expect([f, v.stdout]).toEqual([f, expect.stringMatching(/1 success cases, 0 failure cases/)]);
    }
  });
});

describe('crossplane xpkg build', () => {
  it.each([
    ['package', 'function'],
    ['apis', 'configuration'],
  ])('builds %s/ into the %s package', (root, what) => {
    const file = join(work, `${what}.xpkg`);
    const r = cli([
      'xpkg',
      'build',
      `--package-root=${root}`,
      `--examples-root=${join(work, 'none')}`,
      `-o`,
      file,
    ]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(existsSync(file)).toBe(true);
  });
});
