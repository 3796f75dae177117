/**
 * End to end through the real Crossplane CLI (built by scripts/install-crossplane-cli.sh):
 * render every example against the running function, render again with the first output as
 * observed state, validate the output against the CRDs and the XRD, and build both packages.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments, stringify } from 'yaml';

import type { Obj } from '../src/observe.js';
import { asObserved, ROOT, SHARED } from './helpers.js';

const CLI = process.env.CROSSPLANE_CLI ?? `${ROOT}_output/bin/crossplane`;
const MAIN = `${ROOT}dist/main.js`;

let fn: ChildProcess;
let port = 0;
let work: string;

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(CLI, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function docs(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as unknown)
    .filter((d): d is Obj => typeof d === 'object' && d !== null);
}

function render(xr: string, extra: string[] = []): Obj[] {
  const r = cli([
    'render',
    `examples/${xr}.yaml`,
    'apis/composition.yaml',
    'examples/functions.yaml',
    '--xrd=apis/definition.yaml',
    '-r',
    '-x',
    '-a',
    `render.crossplane.io/runtime-development-target=127.0.0.1:${port}`,
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`render ${xr} failed (${r.code}): ${r.stderr}`);
  return docs(r.stdout);
}

const composed = (out: Obj[]) =>
  out.filter((d) => d.kind !== 'Result' && d.kind !== 'CrossPlatformSecret');
const results = (out: Obj[]) => out.filter((d) => d.kind === 'Result');
const xrOf = (out: Obj[]) => out.find((d) => d.kind === 'CrossPlatformSecret') as Obj;
const storeOf = (out: Obj[]) =>
  composed(out).find((d) => String((d.metadata as Obj).name).endsWith('.value-store')) as {
    data: Record<string, string>;
  };

/** `beta validate` downloads Crossplane's own schemas unless told the image is cached. */
function validate(extensions: string[], resources: string): ReturnType<typeof cli> {
  const cache = join(work, 'validate-cache');
  mkdirSync(join(cache, 'local', 'no-crossplane-schemas@v0'), { recursive: true });
  return cli([
    'beta',
    'validate',
    extensions.join(','),
    resources,
    `--cache-dir=${cache}`,
    '--crossplane-image=local/no-crossplane-schemas:v0',
  ]);
}

const CRDS = `${SHARED}/crds`;

beforeAll(async () => {
  if (!existsSync(CLI)) {
    throw new Error(`Crossplane CLI not found at ${CLI}: run scripts/install-crossplane-cli.sh`);
  }
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  work = mkdtempSync(join(tmpdir(), 'cps-e2e-'));
  fn = spawn(process.execPath, [MAIN, '--insecure', '--address=127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error(`function did not start: ${out}`));
    }, 10_000);
    fn.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
});

afterAll(() => {
  fn.kill('SIGTERM');
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
    writeFileSync(
      join(observedDir, 'observed.yaml'),
      observed.map((d) => stringify(d)).join('---\n'),
    );
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
    writeFileSync(outFile, toValidate.map((d) => stringify(d)).join('---\n'));
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
