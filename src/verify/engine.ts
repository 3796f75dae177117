/**
 * Runs the adapters for the function and the audit command: every target's observation is
 * cached for a TTL, concurrent asks for the same target share one read, each platform is held
 * to a concurrency and a request rate, throttling pauses the platform with a growing backoff,
 * and the whole check is bounded by a time budget. Whatever cannot be read in time is
 * 'unknown'; nothing here throws on a vault's behalf.
 */
import type { Platform } from '../spec.js';
import type { Adapter, LiveObservation } from './types.js';

export interface LiveItem {
  /** Identifies the external secret and the credentials it is read with. */
  key: string;
  platform: Platform;
  adapter: Adapter<{ id: string }>;
  /** The adapter's own description of the target; its id is replaced by the key. */
  target: { id: string };
  /** Limits for the platform account the adapter reads; the first item's apply to a batch. */
  limits: PlatformLimits;
  /** How long a reading is trusted. */
  ttlMs: number;
  /** Trust a cached reading only this long (a target suspected of drift is read again soon). */
  maxAgeMs?: number;
}

export interface Checked extends LiveObservation {
  /** When the platform was read (ms since the epoch). */
  checkedAt: number;
}

export interface Reading extends Checked {
  /** Served from the cache rather than read for this call. */
  cached: boolean;
}

interface Entry {
  checked: Checked;
  expiresAt: number;
}

export interface PlatformLimits {
  /** Reads per second, sustained. */
  rate: number;
  /** Reads allowed at once after a quiet period. */
  burst: number;
  /** Adapter calls in flight at once. */
  concurrency: number;
}

export interface EngineOptions {
  /**
   * Wait for the rate limit instead of reporting targets over it as unknown: for a one-shot
   * run such as the audit, which has no later call to read them in.
   */
  waitForRate?: boolean;
  /** How long an 'unknown' answer is kept, so an unreachable vault is not asked every call. */
  unknownTtlMs: number;
  now?: () => number;
  /** Told of every adapter call, for metrics. */
  onCall?: (platform: Platform, targets: number, errors: number, seconds: number) => void;
}

export const DEFAULT_LIMITS: PlatformLimits = { rate: 10, burst: 20, concurrency: 4 };

const BACKOFF_START_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

const unknown = (error: string, now: number): Checked => ({
  state: 'unknown',
  error,
  checkedAt: now,
});

/** Token bucket, semaphore and throttling backoff for one platform. */
class Limiter {
  private tokens: number;
  private refilled: number;
  private inFlight = 0;
  private waiting: (() => void)[] = [];
  private pausedUntil = 0;
  private backoff = BACKOFF_START_MS;

  constructor(
    private readonly limits: PlatformLimits,
    private readonly now: () => number,
  ) {
    this.tokens = limits.burst;
    this.refilled = now();
  }

  /** Takes up to n tokens now; the caller reads only as many targets as it got. */
  take(n: number): number {
    const t = this.now();
    if (t < this.pausedUntil) return 0;
    this.tokens = Math.min(
      this.limits.burst,
      this.tokens + ((t - this.refilled) / 1000) * this.limits.rate,
    );
    this.refilled = t;
    const got = Math.min(n, Math.floor(this.tokens));
    this.tokens -= got;
    return got;
  }

  /**
   * Waits until n tokens can be taken (and any throttling pause is over), for a caller with no
   * later call to defer to; false when the budget ran out first.
   */
  async waitFor(n: number, signal: AbortSignal): Promise<boolean> {
    const need = Math.min(n, this.limits.burst);
    for (;;) {
      if (signal.aborted) return false;
      const paused = this.pausedFor();
      if (paused === 0 && this.available() >= need) {
        this.tokens -= need;
        return true;
      }
      const refill = ((need - this.available()) / this.limits.rate) * 1000;
      await sleep(Math.max(paused, refill, 5), signal);
    }
  }

  private available(): number {
    const t = this.now();
    this.tokens = Math.min(
      this.limits.burst,
      this.tokens + ((t - this.refilled) / 1000) * this.limits.rate,
    );
    this.refilled = t;
    return this.tokens;
  }

  pausedFor(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  throttled(): void {
    this.pausedUntil = this.now() + this.backoff;
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
  }

  answered(): void {
    this.backoff = BACKOFF_START_MS;
  }

  async acquire(signal: AbortSignal): Promise<boolean> {
    if (this.inFlight < this.limits.concurrency) {
      this.inFlight++;
      return true;
    }
    return new Promise<boolean>((resolve) => {
      const go = () => {
        signal.removeEventListener('abort', give);
        this.inFlight++;
        resolve(true);
      };
      const give = () => {
        this.waiting = this.waiting.filter((w) => w !== go);
        resolve(false);
      };
      this.waiting.push(go);
      signal.addEventListener('abort', give, { once: true });
    });
  }

  release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }
}

const THROTTLED = /^throttled/;

export class Engine {
  private readonly cache = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Checked>>();
  private readonly limiters = new Map<string, Limiter>();
  private readonly now: () => number;
  private swept = 0;

  constructor(private readonly opts: EngineOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Observations by item key; every key asked for gets one. */
  async verify(items: readonly LiveItem[], budgetMs: number): Promise<Map<string, Reading>> {
    this.sweep();
    const out = new Map<string, Reading>();
    const signal = AbortSignal.timeout(budgetMs);
    const due: LiveItem[] = [];
    const waits: Promise<void>[] = [];
    for (const item of items) {
      const hit = this.fresh(item.key, item.maxAgeMs);
      if (hit !== undefined) {
        out.set(item.key, { ...hit, cached: true });
        continue;
      }
      const shared = this.pending.get(item.key);
      if (shared !== undefined) {
        waits.push(
          shared.then((c) => {
            out.set(item.key, { ...c, cached: true });
          }),
        );
        continue;
      }
      if (!due.some((d) => d.key === item.key)) due.push(item);
    }
    const groups = new Map<string, LiveItem[]>();
    for (const item of due) {
      // One adapter call per adapter instance, so a batch shares its client and credentials.
      const id = `${item.platform}\n${adapterId(item.adapter)}`;
      groups.set(id, [...(groups.get(id) ?? []), item]);
    }
    for (const group of groups.values()) {
      const run = this.read(group, signal);
      group.forEach((item, i) => {
        const p = run.then((res) => res[i] ?? unknown('no answer', this.now()));
        this.pending.set(item.key, p);
        waits.push(
          p.then((c) => {
            out.set(item.key, { ...c, cached: false });
          }),
        );
        void p.finally(() => {
          if (this.pending.get(item.key) === p) this.pending.delete(item.key);
        });
      });
    }
    const late = new Promise<void>((resolve) => {
      signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
    });
    await Promise.race([Promise.all(waits), late]);
    for (const item of items) {
      if (!out.has(item.key)) {
        out.set(item.key, {
          ...unknown('no answer within the time budget', this.now()),
          cached: false,
        });
      }
    }
    return out;
  }

  /** Forgets what was seen of a target, so the next call reads it again. */
  forget(key: string): void {
    this.cache.delete(key);
  }

  /** Drops every expired reading once the cache has doubled since the last sweep. */
  private sweep(): void {
    if (this.cache.size < this.swept * 2 + 1024) return;
    for (const key of [...this.cache.keys()]) this.fresh(key);
    this.swept = this.cache.size;
  }

  private fresh(key: string, maxAgeMs = Infinity): Checked | undefined {
    const e = this.cache.get(key);
    if (e === undefined) return undefined;
    const now = this.now();
    if (now < e.expiresAt && now - e.checked.checkedAt < maxAgeMs) return e.checked;
    if (now >= e.expiresAt) this.cache.delete(key);
    return undefined;
  }

  /** One limiter per adapter, that is per platform account and endpoint. */
  private limiter(item: LiveItem): Limiter {
    // New limits make a new limiter at once; the old one is simply no longer used.
    const id = `${String(adapterId(item.adapter))}\n${JSON.stringify(item.limits)}`;
    let l = this.limiters.get(id);
    if (l === undefined) {
      l = new Limiter(item.limits, this.now);
      this.limiters.set(id, l);
    }
    return l;
  }

  /** Reads one group with one adapter call; results in the group's order. */
  private async read(group: LiveItem[], signal: AbortSignal): Promise<Checked[]> {
    const first = group[0];
    if (first === undefined) return [];
    if (this.opts.waitForRate !== true) return this.readNow(group, signal);
    const limiter = this.limiter(first);
    const out: Checked[] = [];
    const chunk = Math.max(1, Math.floor(first.limits.burst));
    for (let i = 0; i < group.length; i += chunk) {
      const part = group.slice(i, i + chunk);
      if (!(await limiter.waitFor(part.length, signal))) {
        const late = unknown('no answer within the time budget', this.now());
        return [...out, ...group.slice(i).map(() => late)];
      }
      out.push(...(await this.readNow(part, signal, part.length)));
    }
    return out;
  }

  /** Reads what the rate allows now (all of `granted` when the caller already took tokens). */
  private async readNow(
    group: LiveItem[],
    signal: AbortSignal,
    granted?: number,
  ): Promise<Checked[]> {
    const first = group[0];
    if (first === undefined) return [];
    const limiter = this.limiter(first);
    const paused = granted === undefined ? limiter.pausedFor() : 0;
    if (paused > 0) {
      const why = `throttled; backing off for ${Math.ceil(paused / 1000)} s`;
      return group.map(() => unknown(why, this.now()));
    }
    const allowed = granted ?? limiter.take(group.length);
    const now = group.slice(0, allowed);
    const results: Checked[] = group
      .slice(allowed)
      .map(() => unknown('rate limit reached; read on a later call', this.now()));
    if (now.length === 0) return results;
    if (!(await limiter.acquire(signal))) {
      return group.map(() => unknown('no answer within the time budget', this.now()));
    }
    const started = this.now();
    let seen: Map<string, LiveObservation>;
    try {
      seen = await first.adapter.observe(
        now.map((item) => ({ ...item.target, id: item.key })),
        signal,
        { concurrency: first.limits.concurrency },
      );
    } catch (err) {
      // Adapters turn failures into states; a throw is a bug of ours, reported as unknown.
      const e = err as Error;
      seen = new Map(now.map((i) => [i.key, { state: 'unknown', error: e.name }]));
    } finally {
      limiter.release();
    }
    const at = this.now();
    const read = now.map((item) => {
      const o = seen.get(item.key) ?? { state: 'unknown', error: 'no answer' };
      const c: Checked = { ...o, checkedAt: at };
      // A value kept for adoption goes to the caller that read it, never into the cache.
      const cached: Checked = { ...c };
      delete cached.captured;
      const ttl = c.state === 'unknown' ? Math.min(item.ttlMs, this.opts.unknownTtlMs) : item.ttlMs;
      this.cache.set(item.key, { checked: cached, expiresAt: at + ttl });
      return c;
    });
    const errors = read.filter((c) => c.state === 'unknown').length;
    if (read.some((c) => c.error !== undefined && THROTTLED.test(c.error))) limiter.throttled();
    else limiter.answered();
    this.opts.onCall?.(first.platform, now.length, errors, (at - started) / 1000);
    return [...read, ...results];
  }
}

const ids = new WeakMap<object, number>();
let nextId = 0;

function adapterId(a: object): number {
  let id = ids.get(a);
  if (id === undefined) {
    id = ++nextId;
    ids.set(a, id);
  }
  return id;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
