/**
 * The floor of the benchmark: a function on the same SDK that returns the request's desired
 * state untouched, so gRPC and protobuf alone are measured. Same flags as the real function.
 */
import {
  FunctionRunner,
  getServerCredentials,
  newGrpcServer,
  to,
  type RunFunctionRequest,
} from '@crossplane-org/function-sdk-typescript';
import { pino } from 'pino';

import { parseFlags } from '../src/flags.js';

const parsed = parseFlags(process.argv.slice(2), process.env);
if (parsed.help) process.exit(0);
const opts = parsed.options;
const log = pino({ level: 'warn' });
const runner = new FunctionRunner(
  { RunFunction: (req: RunFunctionRequest) => Promise.resolve(to(req)) },
  log,
);
const server = newGrpcServer(runner, log);
// The SDK makes client certificates optional; the comparison uses the same TLS as ours.
const creds = opts.insecure
  ? getServerCredentials({ address: opts.address, insecure: true })
  : (await import('../src/server.js')).credentials(opts);
server.bindAsync(opts.address, await creds, (err, port) => {
  if (err !== null) {
    process.stderr.write(`cannot listen: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});
process.on('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
