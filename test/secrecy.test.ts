/**
 * A value never reaches a log line, a result, a condition or a status field: proved with a
 * sentinel value, also when providers echo it back in their error messages, and over generated
 * hostile inputs.
 */
import { describe, expect, it } from '@jest/globals';
import { Severity } from '@crossplane-org/function-sdk-typescript';
import fc from 'fast-check';

import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { SOURCE_REQUIREMENT } from '../src/resolve.js';
import {
  example,
  observeAll,
  request,
  testDeps,
  userVisibleStrings,
  fromSecretComposite,
  sourceSecret,
} from './helpers.js';

const SENTINEL = 'SENTINEL-7f3c2a9b-"quoted"\nline-two<&>';

/** Go's JSON encoder, as providers write their messages, escapes <, > and & as well. */
function goJson(value: string): string {
  return JSON.stringify(value)
    .slice(1, -1)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

function forms(value: string): string[] {
  const b = Buffer.from(value);
  return [
    value,
    b.toString('base64'),
    b.toString('base64url'),
    JSON.stringify(value).slice(1, -1),
    goJson(value),
    'SENTINEL-7f3c2a9b',
  ];
}

const source = (value: Buffer): Obj => sourceSecret('app-source', { value });
const composite = (targets: Obj[]): Obj => fromSecretComposite('app-source', 'value', targets);

const ALL_TARGETS = (example('all-platforms').spec as { targets: Obj[] }).targets;

function expectNoLeak(strings: string[]): void {
  for (const text of strings) for (const f of forms(SENTINEL)) expect(text).not.toContain(f);
}

describe('the sentinel value', () => {
  const required = { [SOURCE_REQUIREMENT]: [source(Buffer.from(SENTINEL))] };

  it('stays out of results, conditions, status and logs on a first call', () => {
    const deps = testDeps();
    const rsp = runFunction(request(composite(ALL_TARGETS), { required }), deps);
    expect(rsp.results.map((r) => r.severity)).toEqual([Severity.SEVERITY_NORMAL]);
    expect(deps.logs.length).toBeGreaterThan(0);
    expectNoLeak(userVisibleStrings(rsp, deps.logs));
  });

  it('is scrubbed from provider messages that echo it', () => {
    const xr = composite(ALL_TARGETS);
    const first = runFunction(request(xr, { required }), testDeps());
    const observed = observeAll(first);
    const echo = forms(SENTINEL).slice(0, 5).join(' | ');
    for (const o of Object.values(observed)) {
      if (o.apiVersion === 'v1') continue;
      o.status = {
        atProvider: { versionId: SENTINEL, version: SENTINEL, metadata: { version: SENTINEL } },
        conditions: [
          { type: 'Ready', status: 'False', reason: 'Unavailable', message: echo },
          { type: 'Synced', status: 'False', reason: 'ReconcileError', message: echo },
        ],
      };
    }
    const deps = testDeps();
    const rsp = runFunction(request(xr, { required, observed }), deps);
    const strings = userVisibleStrings(rsp, deps.logs);
    expect(strings.join('\n')).toContain('[redacted]');
    expectNoLeak(strings);
  });

  it('stays out of the fatal result when the value is refused', () => {
    const big = Buffer.from(SENTINEL.repeat(2000));
    const deps = testDeps();
    const rsp = runFunction(
      request(composite(ALL_TARGETS), {
        required: { [SOURCE_REQUIREMENT]: [source(big)] },
      }),
      deps,
    );
    expect(rsp.results.map((r) => r.severity)).toEqual([Severity.SEVERITY_FATAL]);
    expectNoLeak(userVisibleStrings(rsp, deps.logs));
  });
});

/** Anything JSON can hold, to stand in for a hostile or corrupted observed object. */
const junk = fc.jsonValue({ maxDepth: 3 });

const condition = fc.record(
  {
    type: fc.constantFrom('Ready', 'Synced', 'LastAsyncOperation', 'Odd'),
    status: fc.oneof(fc.constantFrom('True', 'False', 'Unknown'), junk),
    reason: fc.oneof(fc.string(), junk),
    message: fc.oneof(fc.constant(SENTINEL), fc.string(), junk),
    observedGeneration: fc.oneof(fc.integer(), junk),
  },
  { requiredKeys: [] },
);

/** A status as an attacker or a bad restore might leave it: right names, wrong everything. */
const previousStatus = fc.record({
  targets: fc.array(
    fc.record({
      name: fc.constantFrom('aws-prod', 'azure-prod', 'vault-onprem', 'pods', 'x'),
      heldVersion: fc.oneof(fc.integer({ min: -2, max: 3 }), junk),
      evidence: fc.oneof(fc.string(), junk),
      drift: fc.oneof(
        junk,
        fc.record({
          state: fc.constantFrom('InSync', 'Drifted', 'Healing', 'Failed', 'Bogus'),
          reason: fc.constantFrom('VersionMoved', 'InSync', 'X'),
          since: fc.oneof(fc.constant('2026-12-01T09:00:00Z'), fc.string()),
          evidence: fc.oneof(fc.string(), junk),
        }),
      ),
    }),
    { maxLength: 5 },
  ),
  rotation: fc.oneof(junk, fc.record({ phase: fc.string(), since: fc.string() })),
});

function mangle(o: Obj, conditions: unknown, extra: unknown): Obj {
  const copy = structuredClone(o);
  copy.status = { conditions, atProvider: extra };
  if (typeof extra === 'object' && extra !== null) copy.metadata = extra;
  return copy;
}

describe('generated hostile inputs', () => {
  it('never throw, give at most one fatal result, and never leak the value', () => {
    const xr = composite(ALL_TARGETS);
    const base = observeAll(
      runFunction(
        request(xr, { required: { [SOURCE_REQUIREMENT]: [source(Buffer.from(SENTINEL))] } }),
        testDeps(),
      ),
    );
    const keys = Object.keys(base);
    fc.assert(
      fc.property(
        fc.subarray(keys),
        fc.array(fc.tuple(fc.array(condition, { maxLength: 4 }), junk), {
          minLength: keys.length,
          maxLength: keys.length,
        }),
        fc.option(junk),
        fc.option(fc.jsonValue({ maxDepth: 4 })),
        fc.option(previousStatus),
        (present, mangles, specJunk, inputJunk, statusJunk) => {
          const observed: Record<string, Obj> = {};
          present.forEach((k, i) => {
            const o = base[k];
            const m = mangles[i];
            if (o !== undefined && m !== undefined) {
              observed[k] = k === 'store' ? o : mangle(o, m[0], m[1]);
            }
          });
          const spec = specJunk === null ? xr.spec : specJunk;
          const req = request(
            { ...xr, spec, ...(statusJunk === null ? {} : { status: statusJunk }) },
            {
              observed,
              input: inputJunk === null ? undefined : (inputJunk as Obj),
              required: { [SOURCE_REQUIREMENT]: [source(Buffer.from(SENTINEL))] },
            },
          );
          const deps = testDeps();
          const rsp = runFunction(req, deps);
          const fatal = rsp.results.filter((r) => r.severity === Severity.SEVERITY_FATAL);
          expect(fatal.length).toBeLessThanOrEqual(1);
          expectNoLeak(userVisibleStrings(rsp, deps.logs));
        },
      ),
      { numRuns: 300, seed: 20261204 },
    );
  });

  it('never throw on arbitrary specs built from valid-looking parts', () => {
    const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
    const target = fc.oneof(
      fc.record({ name, aws: fc.record({ region: fc.string(), name: fc.string() }) }),
      fc.record({ name, azure: fc.record({ vaultId: fc.string(), name: fc.string() }) }),
      fc.record({
        name,
        vault: fc.record({ mount: fc.string(), path: fc.string(), key: fc.string() }),
      }),
      fc.record({
        name,
        kubernetes: fc.record(
          { name: fc.string(), key: fc.string(), namespace: fc.string() },
          { requiredKeys: ['name', 'key'] },
        ),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(target, { maxLength: 6 }),
        fc.integer({ min: -5, max: 5000 }),
        (targets, length) => {
          const xr = {
            ...composite(targets),
            spec: { value: { generate: { length } }, targets },
          };
          const rsp = runFunction(request(xr), testDeps());
          const fatal = rsp.results.filter((r) => r.severity === Severity.SEVERITY_FATAL);
          // Either a single fatal and nothing emitted, or no fatal and a full composition.
          if (fatal.length === 1) expect(rsp.desired?.resources).toEqual({});
          else expect(rsp.desired?.resources.store).toBeDefined();
        },
      ),
      { numRuns: 300, seed: 4 },
    );
  });
});
