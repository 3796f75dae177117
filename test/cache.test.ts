/**
 * The response cache is only right if a cached answer is the answer the function would give:
 * for random rotation sequences, a response marked cacheable until T is byte for byte what the
 * function computes for the same request at any moment before T.
 */
import { describe, expect, it } from '@jest/globals';
import { RunFunctionRequest, RunFunctionResponse } from '@crossplane-org/function-sdk-typescript';
import fc from 'fast-check';

import { requestTag, ResponseCache } from '../src/cache.js';
import { cacheableUntil, runFunction } from '../src/function.js';
import { ANNOTATION_ROTATE } from '../src/names.js';
import type { Obj } from '../src/observe.js';
import { at, Cluster, HOUR, MINUTE, plus } from './cluster.js';
import { example, request, testDeps } from './helpers.js';

const KEYS = ['aws-prod-aws-version', 'vault-onprem-vault-secret'];

const action = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat(HOUR) }) },
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
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('token' as const), t: fc.nat(3) }) },
);

const encode = (r: RunFunctionResponse) => Buffer.from(RunFunctionResponse.encode(r).finish());

function xrWith(strategy: string, deadline: string): Obj {
  const xr = example('rotation-canary');
  const rotation = { every: '720h', strategy, deadline, onFailure: 'Rollback' };
  return {
    ...xr,
    spec: {
      ...(xr.spec as Obj),
      rotation: strategy === 'Canary' ? { ...rotation, canary: 'aws-prod' } : rotation,
    },
  };
}

describe('response cache', () => {
  it('a cacheable response is what the function answers until it expires', () => {
    let cacheable = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('Simultaneous', 'Canary'),
        fc.constantFrom('5m', '2h'),
        fc.array(fc.tuple(action, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })), {
          minLength: 5,
          maxLength: 30,
        }),
        (strategy, deadline, steps) => {
          const c = new Cluster(xrWith(strategy, deadline));
          let now = at('2026-12-01T10:00:00.000Z');
          let failing = new Map<string, string>();
          for (const [a, frac] of steps) {
            if (a.kind === 'tick' || a.kind === 'jump') now = plus(now, a.ms + MINUTE);
            if (a.kind === 'fail') failing = new Map(a.keys.map((k) => [k, `error on ${k}`]));
            if (a.kind === 'token') c.annotate(ANNOTATION_ROTATE, String(a.t));
            const req = request(c.xr, { observed: c.observed });
            const at1 = now;
            const first = runFunction(req, { ...testDeps(), cache: true, now: () => at1 });
            const until = cacheableUntil(first);
            if (until > 0) {
              cacheable++;
              expect(until).toBeGreaterThan(now.getTime());
              const later = new Date(Math.floor(now.getTime() + frac * (until - now.getTime())));
              const again = runFunction(req, { ...testDeps(), now: () => later });
              expect(encode(again).equals(encode(first))).toBe(true);
            }
            c.reconcile(now, { failing });
          }
        },
      ),
      { numRuns: 120, seed: 20261205 },
    );
    // Most steady states must qualify, or the cache would never be used.
    expect(cacheable).toBeGreaterThan(300);
  });

  it('a first call, a changed status and a transition within a poll are not cacheable', () => {
    const c = new Cluster(xrWith('Simultaneous', '5m'));
    const t0 = at('2026-12-01T10:00:00.000Z');
    const first = runFunction(request(c.xr), { ...testDeps(), cache: true, now: () => t0 });
    expect(cacheableUntil(first)).toBe(0);
    for (let i = 1; i <= 3; i++) c.reconcile(plus(t0, i * MINUTE));
    const now = plus(t0, 4 * MINUTE);
    const settled = runFunction(request(c.xr, { observed: c.observed }), {
      ...testDeps(),
      cache: true,
      now: () => now,
    });
    const due = Date.parse((c.status().rotation.nextRotationAt ?? '') || 'x');
    // Valid until one default poll before the scheduled rotation, capped at an hour.
    expect(cacheableUntil(settled)).toBe(Math.min(due - MINUTE, now.getTime() + HOUR));
    const nearDue = new Date(due - 30_000);
    const close = runFunction(request(c.xr, { observed: c.observed }), {
      ...testDeps(),
      cache: true,
      now: () => nearDue,
    });
    expect(cacheableUntil(close)).toBe(0);
  });

  it('a moved version is cacheable only until it would be presumed healed', () => {
    const t0 = at('2026-12-01T10:00:00.000Z');
    const c = new Cluster(example('all-platforms'));
    for (let i = 0; i < 3; i++) c.reconcile(plus(t0, i * MINUTE));
    const o = c.observed['vault-onprem-vault-secret'] as { status: Obj };
    o.status = { ...o.status, atProvider: { metadata: { version: '7' } } };
    c.reconcile(plus(t0, 3 * MINUTE), { apply: false });
    const req = request(c.xr, { observed: c.observed });
    const now = plus(t0, 5 * MINUTE);
    const healing = runFunction(req, { ...testDeps(), cache: true, now: () => now });
    const until = cacheableUntil(healing);
    expect(until).toBe(plus(t0, 13 * MINUTE).getTime());
    const before = runFunction(req, { ...testDeps(), now: () => new Date(until - 1) });
    expect(encode(before).equals(encode(healing))).toBe(true);
    const after = runFunction(req, { ...testDeps(), now: () => new Date(until) });
    expect(encode(after).equals(encode(healing))).toBe(false);
  });

  it('keeps the most recently used entries and drops expired ones', () => {
    const cache = new ResponseCache(2);
    const b = (s: string) => Buffer.from(s);
    cache.set('a', b('A'), 100, 0);
    cache.set('b', b('B'), 100, 0);
    expect(cache.get('a', 1)?.toString()).toBe('A');
    cache.set('c', b('C'), 100, 0);
    expect(cache.get('b', 1)).toBeUndefined();
    expect(cache.get('a', 1)?.toString()).toBe('A');
    expect(cache.get('c', 100)).toBeUndefined();
    expect(cache.hits).toBe(2);
    const off = new ResponseCache(0);
    off.set('a', b('A'), 100, 0);
    expect(off.get('a', 1)).toBeUndefined();
  });
});

describe('request tags', () => {
  const tagged = (tag: string) => {
    const req = request(example('aws'));
    return Buffer.from(
      RunFunctionRequest.encode({ ...req, meta: { capabilities: [], ...req.meta, tag } }).finish(),
    );
  };

  it("reads Crossplane's tag from the wire and keys the cache by it", () => {
    const tag = 'ab'.repeat(32);
    expect(requestTag(tagged(tag))).toBe(tag);
    expect(ResponseCache.key(tagged(tag))).toBe(`t${tag}`);
  });

  it('hashes the bytes when the tag is not a SHA-256, or the bytes are not a request', () => {
    expect(requestTag(tagged('test'))).toBeUndefined();
    expect(ResponseCache.key(tagged('test'))).toMatch(/^h/);
    expect(requestTag(Buffer.from([0x0a, 0xff, 0xff]))).toBeUndefined();
    expect(requestTag(Buffer.alloc(0))).toBeUndefined();
  });
});
