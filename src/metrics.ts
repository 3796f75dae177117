/**
 * Prometheus metrics, served on their own port so scraping never competes with RunFunction.
 * Labels are platforms, states and reasons: small fixed sets, never names or values.
 */
import { createServer, type Server } from 'node:http';

import { Severity, type RunFunctionResponse } from '@crossplane-org/function-sdk-typescript';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import { getString, isObj } from './observe.js';
import type { Platform } from './spec.js';

const PREFIX = 'cross_platform_secret_';

/** Reasons of results that are rotation events; anything else is not counted as one. */
const ROTATION_REASONS = new Set([
  'RotationStarted',
  'CanaryPassed',
  'RotationCompleted',
  'RotationFailed',
  'RollbackStarted',
  'RolledBack',
]);

const PLATFORM_IN_MESSAGE = /^[a-z0-9-]+ \((aws|azure|vault|kubernetes)\): /;

const DRIFT_STATES = ['InSync', 'Pending', 'Drifted', 'Healing', 'Failed'];

/** Composites remembered for the targets gauge; beyond this the oldest are forgotten. */
const MAX_COMPOSITES = 100_000;

export class Metrics {
  readonly registry = new Registry();
  private readonly calls: Counter<'result'>;
  private readonly duration: Histogram;
  private readonly targets: Gauge<'state'>;
  private readonly drift: Counter<'platform'>;
  private readonly rotations: Counter<'event'>;
  private readonly verifyCalls: Counter<'platform'>;
  private readonly verifyErrors: Counter<'platform'>;
  private readonly verifyDuration: Histogram<'platform'>;
  private readonly byComposite = new Map<string, string[]>();

  constructor(opts: { defaults?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaults !== false) collectDefaultMetrics({ register: this.registry });
    this.calls = new Counter({
      name: `${PREFIX}calls_total`,
      help: 'RunFunction calls, by result: ok, fatal (refused input) or error.',
      labelNames: ['result'],
      registers,
    });
    this.duration = new Histogram({
      name: `${PREFIX}call_duration_seconds`,
      help: 'Time to answer a RunFunction call, live verification included.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.targets = new Gauge({
      name: `${PREFIX}targets`,
      help: 'Targets of the composites seen by this replica, by drift state.',
      labelNames: ['state'],
      registers,
    });
    this.drift = new Counter({
      name: `${PREFIX}drift_found_total`,
      help: 'Drifts found (reported once each), by platform.',
      labelNames: ['platform'],
      registers,
    });
    this.rotations = new Counter({
      name: `${PREFIX}rotation_events_total`,
      help: 'Rotation events, by event (RotationStarted, RotationCompleted, RolledBack, ...).',
      labelNames: ['event'],
      registers,
    });
    this.verifyCalls = new Counter({
      name: `${PREFIX}verification_reads_total`,
      help: 'Targets read through a platform API, by platform.',
      labelNames: ['platform'],
      registers,
    });
    this.verifyErrors = new Counter({
      name: `${PREFIX}verification_errors_total`,
      help: 'Targets whose read failed or timed out (state unknown), by platform.',
      labelNames: ['platform'],
      registers,
    });
    this.verifyDuration = new Histogram({
      name: `${PREFIX}verification_duration_seconds`,
      help: 'Time of one batch of reads against a platform.',
      labelNames: ['platform'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    for (const s of DRIFT_STATES) this.targets.set({ state: s }, 0);
  }

  /** Counts responses sent again from the cache, read from the cache's own counter. */
  cacheHits(read: () => number): void {
    let seen = 0;
    new Counter({
      name: `${PREFIX}cached_responses_total`,
      help: 'Calls answered from the response cache (not counted in calls_total).',
      registers: [this.registry],
      collect() {
        const now = read();
        this.inc(now - seen);
        seen = now;
      },
    });
  }

  /** For the engine's onCall hook. */
  verification(platform: Platform, targets: number, errors: number, seconds: number): void {
    this.verifyCalls.inc({ platform }, targets);
    if (errors > 0) this.verifyErrors.inc({ platform }, errors);
    this.verifyDuration.observe({ platform }, seconds);
  }

  /** Counts one answered call from what the response says. */
  call(composite: string, rsp: RunFunctionResponse | undefined, seconds: number): void {
    this.duration.observe(seconds);
    if (rsp === undefined) {
      this.calls.inc({ result: 'error' });
      return;
    }
    const fatal = rsp.results.some((r) => r.severity === Severity.SEVERITY_FATAL);
    this.calls.inc({ result: fatal ? 'fatal' : 'ok' });
    for (const r of rsp.results) {
      if (ROTATION_REASONS.has(r.reason ?? '')) this.rotations.inc({ event: r.reason ?? '' });
    }
    if (fatal) return;
    const status = rsp.desired?.composite?.resource?.status as unknown;
    const targets = isObj(status) && Array.isArray(status.targets) ? status.targets : [];
    const states = (targets as unknown[]).map((t) => getString(t, 'drift', 'state') ?? 'Pending');
    for (const r of rsp.results) {
      // Drift results name the target and its platform: "db (aws): ...".
      const platform = r.reason === 'DriftDetected' ? PLATFORM_IN_MESSAGE.exec(r.message) : null;
      if (platform?.[1] !== undefined) this.drift.inc({ platform: platform[1] });
    }
    this.setStates(composite, this.byComposite.get(composite) ?? [], states);
  }

  private setStates(composite: string, before: string[], after: string[]): void {
    for (const s of before) this.targets.dec({ state: s });
    for (const s of after) this.targets.inc({ state: s });
    this.byComposite.delete(composite);
    this.byComposite.set(composite, after);
    if (this.byComposite.size > MAX_COMPOSITES) {
      const [oldest] = this.byComposite;
      if (oldest !== undefined) {
        this.byComposite.delete(oldest[0]);
        for (const s of oldest[1]) this.targets.dec({ state: s });
      }
    }
  }

  /** Serves GET /metrics; resolves with the bound port. */
  async serve(host: string, port: number): Promise<{ port: number; server: Server }> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body);
        },
        () => {
          res.writeHead(500).end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        resolve();
      });
    });
    const addr = server.address();
    return { port: typeof addr === 'object' && addr !== null ? addr.port : port, server };
  }
}
