import { ResponseCache } from './cache.js';
import { handle } from './function.js';
import type { Metrics } from './metrics.js';
import { Engine } from './verify/engine.js';
import { Adapters } from './verify/live.js';
import { parseFlags, USAGE, UsageError } from './flags.js';
import { newLogger } from './logger.js';
import { serve, type RunningServer } from './server.js';
import { cryptoRandomInt } from './value.js';
import { getString } from './observe.js';
import type { RunFunctionRequest } from '@crossplane-org/function-sdk-typescript';

/** Kubernetes waits 30 s by default between SIGTERM and SIGKILL; finish well before that. */
const DRAIN_GRACE_MS = 20_000;

/** An unreachable vault is asked again after this long, not on every call. */
const UNKNOWN_TTL_MS = 30_000;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseFlags(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return;
  }
  const opts = parsed.options;
  const log = newLogger(opts.debug);
  // Metrics are loaded once the gRPC server answers, so they never delay the first call.
  let metrics: Metrics | undefined;
  const engine = new Engine({
    unknownTtlMs: UNKNOWN_TTL_MS,
    onCall: (platform, targets, errors, seconds) => {
      metrics?.verification(platform, targets, errors, seconds);
    },
  });
  const cache = new ResponseCache(opts.cacheSize);
  const deps = {
    logger: log,
    random: cryptoRandomInt,
    now: () => new Date(),
    live: { engine, adapters: new Adapters() },
    cache: opts.cacheSize > 0,
  };
  const handler = async (req: RunFunctionRequest) => {
    const started = performance.now();
    const xr = req.observed?.composite?.resource;
    const ns = getString(xr, 'metadata', 'namespace') ?? '';
    const composite = `${ns}/${getString(xr, 'metadata', 'name') ?? ''}`;
    try {
      const rsp = await handle(req, deps);
      metrics?.call(composite, rsp, (performance.now() - started) / 1000);
      return rsp;
    } catch (err) {
      metrics?.call(composite, undefined, (performance.now() - started) / 1000);
      throw err;
    }
  };
  // Signals are handled from the start: one that arrives while the server binds still drains.
  let server: RunningServer | undefined;
  let stopping: string | undefined;
  const stop = (signal: string) => {
    if (stopping !== undefined) return;
    stopping = signal;
    if (server === undefined) return;
    log.info({ signal }, 'draining');
    void server.shutdown(DRAIN_GRACE_MS).then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  try {
    server = await serve(opts, handler, log, opts.cacheSize > 0 ? cache : undefined);
    if (opts.metricsAddress !== '') {
      const m = new (await import('./metrics.js')).Metrics();
      m.cacheHits(() => cache.hits);
      const i = opts.metricsAddress.lastIndexOf(':');
      const bound = await m.serve(
        opts.metricsAddress.slice(0, i),
        Number(opts.metricsAddress.slice(i + 1)),
      );
      metrics = m;
      log.info({ metricsPort: bound.port }, 'serving metrics');
    }
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.exit(1);
  }
  const early = stopping;
  if (early !== undefined) {
    stopping = undefined;
    stop(early);
  }
}

await main();
