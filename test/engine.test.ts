/**
 * The engine's own rules, with an adapter that records what it is asked: the real adapters are
 * tested against real servers in verify-*.test.ts.
 */
import { describe, expect, it } from '@jest/globals';

import { DEFAULT_LIMITS, Engine, type LiveItem } from '../src/verify/engine.js';
import type { Adapter, LiveObservation } from '../src/verify/types.js';

class Recorder implements Adapter<{ id: string }> {
  readonly platform = 'vault' as const;
  calls: string[][] = [];
  concurrency: (number | undefined)[] = [];
  inFlight = 0;
  peak = 0;

  constructor(
    private readonly answer: (id: string) => LiveObservation = () => ({
      state: 'present',
      valueSha256: 'h',
      captured: Buffer.from('value'),
    }),
    private readonly delayMs = 0,
  ) {}

  async observe(targets: readonly { id: string }[], _s: AbortSignal, o?: { concurrency?: number }) {
    this.calls.push(targets.map((t) => t.id));
    this.concurrency.push(o?.concurrency);
    this.peak = Math.max(this.peak, ++this.inFlight);
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
    return new Map(targets.map((t) => [t.id, this.answer(t.id)]));
  }
}

const item = (adapter: Recorder, key: string, limits = DEFAULT_LIMITS): LiveItem => ({
  key,
  platform: 'vault',
  adapter,
  target: { id: key },
  limits,
  ttlMs: 60_000,
});

describe('the verification engine', () => {
  it('reads each target once within the TTL, and concurrent asks share one read', async () => {
    const a = new Recorder(undefined, 20);
    const engine = new Engine({ unknownTtlMs: 1000 });
    const asks = Array.from({ length: 5 }, () => engine.verify([item(a, 'x')], 1000));
    const got = await Promise.all(asks);
    expect(a.calls).toEqual([['x']]);
    expect(got.map((m) => m.get('x')?.cached)).toEqual([false, true, true, true, true]);
    await engine.verify([item(a, 'x')], 1000);
    expect(a.calls).toHaveLength(1);
  });

  it('keeps an adopted value out of the cache', async () => {
    const a = new Recorder();
    const engine = new Engine({ unknownTtlMs: 1000 });
    const first = await engine.verify([item(a, 'x')], 1000);
    expect(first.get('x')?.captured?.toString()).toBe('value');
    const again = await engine.verify([item(a, 'x')], 1000);
    expect(again.get('x')?.captured).toBeUndefined();
    expect(again.get('x')?.valueSha256).toBe('h');
  });

  it('over the rate, targets are unknown, or waited for when asked to', async () => {
    const limits = { rate: 100, burst: 3, concurrency: 2 };
    const items = (a: Recorder) => Array.from({ length: 8 }, (_, i) => item(a, `t${i}`, limits));
    const a = new Recorder();
    const got = await new Engine({ unknownTtlMs: 0 }).verify(items(a), 1000);
    const states = [...got.values()].map((o) => o.error ?? o.state);
    expect(states.filter((s) => s === 'present')).toHaveLength(3);
    expect(states.filter((s) => s === 'rate limit reached; read on a later call')).toHaveLength(5);

    const b = new Recorder();
    const waited = await new Engine({ unknownTtlMs: 0, waitForRate: true }).verify(items(b), 5000);
    expect([...waited.values()].every((o) => o.state === 'present')).toBe(true);
    expect(b.calls.map((c) => c.length)).toEqual([3, 3, 2]);
    expect(b.concurrency).toEqual([2, 2, 2]);
  });

  it('new limits take effect at once', async () => {
    const a = new Recorder();
    const engine = new Engine({ unknownTtlMs: 0 });
    const tight = { rate: 0.01, burst: 1, concurrency: 1 };
    await engine.verify([item(a, 'a', tight), item(a, 'b', tight)], 1000);
    expect(a.calls.flat()).toEqual(['a']);
    const loose = { rate: 1000, burst: 1000, concurrency: 4 };
    const got = await engine.verify([item(a, 'b', loose), item(a, 'c', loose)], 1000);
    expect([...got.values()].map((o) => o.state)).toEqual(['present', 'present']);
  });

  it('throttling pauses the account with a growing backoff', async () => {
    const a = new Recorder(() => ({ state: 'unknown', error: 'throttled by Vault' }));
    let now = 1_000_000;
    const engine = new Engine({ unknownTtlMs: 0, now: () => now });
    await engine.verify([item(a, 'x')], 1000);
    const paused = await engine.verify([item(a, 'y')], 1000);
    expect(paused.get('y')?.error).toBe('throttled; backing off for 1 s');
    now += 1001;
    await engine.verify([item(a, 'y')], 1000);
    now += 1001;
    const longer = await engine.verify([item(a, 'z')], 1000);
    expect(longer.get('z')?.error).toBe('throttled; backing off for 1 s');
    expect(a.calls).toEqual([['x'], ['y']]);
    now += 1000;
    await engine.verify([item(a, 'z')], 1000);
    expect(a.calls).toEqual([['x'], ['y'], ['z']]);
  });

  it('a read that outlasts the budget is unknown, and the call returns in time', async () => {
    const slow = new Recorder(undefined, 2000);
    const started = Date.now();
    const got = await new Engine({ unknownTtlMs: 0 }).verify([item(slow, 'x')], 100);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(got.get('x')).toMatchObject({
      state: 'unknown',
      error: 'no answer within the time budget',
    });
  });
});
