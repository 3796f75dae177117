/**
 * Every composed resource produced for the examples validates against the providers' real CRDs,
 * read from ../shared/crds; and the XRD accepts every example and rejects the bad ones.
 */
import { readdirSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';
import type { ValidateFunction } from 'ajv';

import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { SOURCE_REQUIREMENT } from '../src/resolve.js';
import { compileSchema, formatErrors } from '../src/schema.js';
import { parseSpec } from '../src/spec.js';
import {
  desiredObjects,
  example,
  loadDoc,
  loadDocs,
  observeAll,
  request,
  ROOT,
  SHARED,
  testDeps,
} from './helpers.js';

interface CrdVersion {
  name: string;
  served: boolean;
  schema?: { openAPIV3Schema?: unknown };
}

function loadCrds(): Map<string, ValidateFunction> {
  const dir = `${SHARED}/crds`;
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  if (files.length === 0) throw new Error(`no CRDs found in ${dir}`);
  const out = new Map<string, ValidateFunction>();
  for (const f of files) {
    for (const crd of loadDocs(`${dir}/${f}`)) {
      const spec = crd.spec as { group: string; names: { kind: string }; versions: CrdVersion[] };
      for (const v of spec.versions) {
        if (!v.served) continue;
        const schema = v.schema?.openAPIV3Schema;
        out.set(`${spec.group}/${v.name}/${spec.names.kind}`, compileSchema(schema));
      }
    }
  }
  return out;
}

const crds = loadCrds();

function rendered(name: string): Obj[] {
  const xr = example(name);
  const required =
    name === 'from-secret'
      ? { [SOURCE_REQUIREMENT]: [loadDoc(`${ROOT}examples/required/licence.yaml`)] }
      : undefined;
  const first = runFunction(request(xr, { required }), testDeps());
  const second = runFunction(request(xr, { required, observed: observeAll(first) }), testDeps());
  return [...Object.values(desiredObjects(first)), ...Object.values(desiredObjects(second))];
}

const EXAMPLES = ['all-platforms', 'aws', 'azure', 'vault', 'kubernetes', 'from-secret'];

describe('composed resources validate against the real CRDs', () => {
  it.each(EXAMPLES)('%s', (name) => {
    const resources = rendered(name);
    expect(resources.length).toBeGreaterThan(0);
    for (const r of resources) {
      const apiVersion = String(r.apiVersion);
      if (apiVersion === 'v1') {
        // Core Secrets have no CRD; check what Kubernetes itself enforces on them.
        expect(r.kind).toBe('Secret');
        expect(r.type).toBe('Opaque');
        expect(r).not.toHaveProperty('stringData');
        for (const [k, v] of Object.entries(r.data as Record<string, unknown>)) {
          expect(k).toMatch(/^[-._a-zA-Z0-9]+$/);
          expect(typeof v === 'string' && Buffer.from(v, 'base64').toString('base64') === v).toBe(
            true,
          );
        }
        continue;
      }
      const validate = crds.get(`${apiVersion}/${String(r.kind)}`);
      if (validate === undefined) throw new Error(`no CRD for ${apiVersion} ${String(r.kind)}`);
      const ok = validate(r);
      expect(formatErrors(String(r.kind), validate.errors)).toEqual([]);
      expect(ok).toBe(true);
    }
  });

  it('would catch a misspelled or mistyped field (the check itself can fail)', () => {
    const version = rendered('aws').find((r) => r.kind === 'SecretVersion') as {
      spec: { forProvider: Obj };
    };
    const validate = crds.get('secretsmanager.aws.m.upbound.io/v1beta1/SecretVersion');
    version.spec.forProvider.versionStage = ['AWSCURRENT'];
    version.spec.forProvider.region = 7;
    expect(validate?.(version)).toBe(false);
    expect(formatErrors('SecretVersion', validate?.errors)).toEqual([
      'SecretVersion.spec.forProvider.region: must be of type string',
      'SecretVersion.spec.forProvider: unknown field "versionStage"',
    ]);
  });

  it('uses only namespaced (.m.) managed resource groups', () => {
    const groups = new Set(
      EXAMPLES.flatMap(rendered)
        .map((r) => String(r.apiVersion))
        .filter((v) => v !== 'v1'),
    );
    for (const g of groups) expect(g).toMatch(/\.m\./);
  });
});

describe('the XRD schema', () => {
  it.each(EXAMPLES)('accepts %s', (name) => {
    expect(parseSpec(example(name).spec)).toMatchObject({ ok: true });
  });

  const bad = readdirSync(`${ROOT}examples/bad`).filter((f) => f.endsWith('.yaml'));
  const expected: Record<string, string[]> = {
    'azure-name.yaml': ['spec.targets[0].azure.name: must match the pattern ^[0-9a-zA-Z-]+$'],
    'recovery-window.yaml': [
      'spec.targets[0].aws.recoveryWindowInDays: must not be between 1 and 6',
    ],
    'two-platforms.yaml': [
      'spec.targets[0]: must set exactly one of: aws, azure, vault, kubernetes',
    ],
    'no-targets.yaml': [
      'spec.targets: must have at least 1 items',
      'spec.value.generate.characters: must be one of: alphanumeric, ascii-printable, hex, ' +
        'base64url',
      'spec.value.generate.length: must be >= 8',
    ],
  };

  it('has an expectation for every bad example', () => {
    expect(bad.sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(bad)('rejects bad/%s', (file) => {
    const result = parseSpec(loadDoc(`${ROOT}examples/bad/${file}`).spec);
    expect(result).toEqual({ ok: false, errors: expected[file] });
  });
});
