import { runFunction } from './function.js';
import { parseFlags, USAGE, UsageError } from './flags.js';
import { newLogger } from './logger.js';
import { serve } from './server.js';
import { cryptoRandomInt } from './value.js';

/** Kubernetes waits 30 s by default between SIGTERM and SIGKILL; finish well before that. */
const DRAIN_GRACE_MS = 20_000;

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
  const deps = { logger: log, random: cryptoRandomInt, now: () => new Date() };
  let server;
  try {
    server = await serve(opts, (req) => runFunction(req, deps), log);
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
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
}

await main();
