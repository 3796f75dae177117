/**
 * The gRPC server. The SDK's own runtime makes client certificates optional, exits 0 when the
 * port is taken and ignores TLS_SERVER_CERTS_DIR; this one requires and verifies a client
 * certificate signed by the CA Crossplane mounts, fails loudly and drains on shutdown.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import {
  FunctionRunnerServiceService,
  Severity,
  type RunFunctionRequest,
  type RunFunctionResponse,
} from '@crossplane-org/function-sdk-typescript';
import type { Logger } from 'pino';

import { ResponseCache } from './cache.js';
import type { Options } from './flags.js';
import { cacheableUntil } from './function.js';

export type Handler = (
  req: RunFunctionRequest,
) => RunFunctionResponse | Promise<RunFunctionResponse>;

export async function credentials(opts: Options): Promise<grpc.ServerCredentials> {
  if (opts.insecure) return grpc.ServerCredentials.createInsecure();
  const dir = opts.tlsServerCertsDir;
  const read = async (f: string): Promise<Buffer> => {
    try {
      return await readFile(join(dir, f));
    } catch (err) {
      throw new Error(`cannot read TLS file "${join(dir, f)}": ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  const [ca, cert, key] = await Promise.all([read('ca.crt'), read('tls.crt'), read('tls.key')]);
  // true: a client must present a certificate that this CA signed, as Crossplane does.
  return grpc.ServerCredentials.createSsl(ca, [{ private_key: key, cert_chain: cert }], true);
}

/**
 * An unexpected exception becomes a fatal result with a fixed message: its text could carry
 * anything, so it goes to the log (as its class and stack) and never into an event.
 */
function internalError(req: RunFunctionRequest): RunFunctionResponse {
  return {
    meta: { tag: req.meta?.tag ?? '', ttl: undefined },
    desired: req.desired,
    results: [
      {
        severity: Severity.SEVERITY_FATAL,
        message: 'cannot run function: internal error; see the function logs',
        reason: 'InternalError',
      },
    ],
    context: req.context,
    requirements: undefined,
    conditions: [],
    output: undefined,
  };
}

export interface RunningServer {
  /** The bound port (useful when the address asked for port 0). */
  port: number;
  /** Stops accepting calls, lets in-flight calls finish, then closes; forces after graceMs. */
  shutdown(graceMs: number): Promise<void>;
}

export async function serve(
  opts: Options,
  handler: Handler,
  log: Logger,
  cache?: ResponseCache,
): Promise<RunningServer> {
  const creds = await credentials(opts);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxRecvMessageSize,
  });
  // Raw bytes in and out, so a cached answer is sent without decoding or encoding anything.
  const def = FunctionRunnerServiceService.runFunction;
  const service = {
    runFunction: {
      ...def,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
    },
  };
  server.addService(service, {
    runFunction: (
      call: grpc.ServerUnaryCall<Buffer, Buffer>,
      callback: grpc.sendUnaryData<Buffer>,
    ) => {
      const bytes = call.request;
      const key = cache === undefined ? '' : ResponseCache.key(bytes);
      const hit = cache?.get(key, Date.now());
      if (hit !== undefined) {
        callback(null, hit);
        return;
      }
      let req: RunFunctionRequest;
      try {
        req = def.requestDeserialize(bytes);
      } catch {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'cannot decode the request' });
        return;
      }
      Promise.resolve()
        .then(() => handler(req))
        .then(
          (rsp) => {
            const out = def.responseSerialize(rsp);
            cache?.set(key, out, cacheableUntil(rsp), Date.now());
            callback(null, out);
          },
          (err: unknown) => {
            const e = err instanceof Error ? err : new Error('non-error thrown');
            log.error({ err: { type: e.name, stack: e.stack } }, 'RunFunction failed');
            callback(null, def.responseSerialize(internalError(req)));
          },
        );
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(opts.address, creds, (err, bound) => {
      if (err !== null) reject(new Error(`cannot listen on "${opts.address}": ${err.message}`));
      else resolve(bound);
    });
  });
  log.info({ address: opts.address, port, tls: !opts.insecure }, 'listening');
  return {
    port,
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          log.warn({ graceMs }, 'calls still in flight after the grace period; closing them');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
