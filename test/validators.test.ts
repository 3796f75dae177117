/**
 * The validators the build compiles into dist/validators.cjs judge exactly as the ones compiled
 * at run time from the same schema files: the built function uses the first, the tests the
 * second.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

import { describe, expect, it } from '@jest/globals';
import type { ValidateFunction } from 'ajv';

import { compileInputCrd, compileXrdSpec, formatErrors } from '../src/schema.js';
import type { Obj } from '../src/observe.js';
import { compositionInput, loadDocs, ROOT } from './helpers.js';

const built = createRequire(import.meta.url)(`${ROOT}dist/validators.cjs`) as {
  spec: ValidateFunction;
  input: ValidateFunction;
};

function judge(v: ValidateFunction, data: unknown): [boolean, unknown, string[]] {
  const copy = JSON.parse(JSON.stringify(data ?? {})) as unknown;
  const ok = v(copy);
  return [ok, copy, formatErrors('x', v.errors)];
}

describe('validators compiled by the build', () => {
  it('accept, default and refuse every example spec as the run-time ones do', () => {
    const runtime = compileXrdSpec();
    const files = [
      ...readdirSync(`${ROOT}examples`).filter((f) => f.endsWith('.yaml')),
      ...readdirSync(`${ROOT}examples/bad`).map((f) => `bad/${f}`),
    ];
    let refused = 0;
    for (const f of files) {
      for (const doc of loadDocs(`${ROOT}examples/${f}`)) {
        if (doc.kind !== 'CrossPlatformSecret') continue;
        const a = judge(built.spec, doc.spec);
        expect(a).toEqual(judge(runtime, doc.spec));
        if (!a[0]) refused++;
      }
    }
    expect(refused).toBeGreaterThan(3);
  });

  it('judge inputs as the run-time ones do', () => {
    const runtime = compileInputCrd();
    const base = compositionInput();
    for (const input of [
      base,
      { ...base, verification: {} },
      { ...base, verification: { budget: '0s', aws: { rate: 0 } } },
      { ...base, verification: { vault: { credentials: 'v' }, extra: 1 } },
      { ...base, guardrails: { minLength: 2 } },
    ] as Obj[]) {
      expect(judge(built.input, input)).toEqual(judge(runtime, input));
    }
  });
});
