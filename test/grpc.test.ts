/**
 * The built server, started as Crossplane starts it, called over gRPC with mutual TLS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import {
  FunctionRunnerServiceService,
  RunFunctionResponse,
  type RunFunctionRequest,
} from '@crossplane-org/function-sdk-typescript';

import { newLogger } from '../src/logger.js';
import { serve } from '../src/server.js';
import { Cluster } from './cluster.js';
import { example, request, ROOT } from './helpers.js';
import { makePki, type Pki } from './pki.js';

const MAIN = `${ROOT}dist/main.js`;
const Client = grpc.makeGenericClientConstructor(FunctionRunnerServiceService, 'FunctionRunner');

interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts dist/main.js and waits for its "listening" line, or for it to exit. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not start: ${out}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"msg":"listening"/.test(out) ? /"port":(\d+)/.exec(out) : null;
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: () => out, exited });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      resolve({ child, port: 0, output: () => out, exited: Promise.resolve(code) });
    });
  });
}

/** The metrics endpoint starts once the gRPC server answers; its port is logged then. */
async function metricsPort(s: Started): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const port = /"metricsPort":(\d+)/.exec(s.output())?.[1];
    if (port !== undefined) return port;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no metrics port logged: ${s.output()}`);
}

function call(
  port: number,
  creds: grpc.ChannelCredentials,
  req: RunFunctionRequest,
): Promise<RunFunctionResponse> {
  // The server certificate names localhost too; an IP as TLS server name is deprecated in Node.
  const client = new Client(`127.0.0.1:${port}`, creds, {
    'grpc.ssl_target_name_override': 'localhost',
  });
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 5000);
    client.makeUnaryRequest(
      FunctionRunnerServiceService.runFunction.path,
      FunctionRunnerServiceService.runFunction.requestSerialize,
      FunctionRunnerServiceService.runFunction.responseDeserialize,
      req,
      { deadline },
      (err: grpc.ServiceError | null, rsp?: RunFunctionResponse) => {
        client.close();
        if (err !== null) reject(err);
        else if (rsp === undefined) reject(new Error('no response'));
        else resolve(rsp);
      },
    );
  });
}

describe('the gRPC server with mutual TLS', () => {
  let pki: Pki;
  let server: Started;

  beforeAll(async () => {
    pki = makePki();
    // Crossplane passes the directory through TLS_SERVER_CERTS_DIR, not a flag.
    server = await start(['--address=127.0.0.1:0'], { TLS_SERVER_CERTS_DIR: pki.dir });
    expect(server.port).toBeGreaterThan(0);
  });

  afterAll(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('answers a client that presents a certificate signed by the CA', async () => {
    const creds = grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert);
    const rsp = await call(server.port, creds, request(example('all-platforms')));
    expect(rsp.meta?.tag).toBe('test');
    expect(Object.keys(rsp.desired?.resources ?? {}).sort()).toEqual([
      'aws-prod-aws-secret',
      'aws-prod-aws-version',
      'azure-prod-azure-secret',
      'pods-kubernetes-secret',
      'store',
      'vault-onprem-vault-secret',
    ]);
  });

  it('refuses a client without a certificate', async () => {
    const creds = grpc.credentials.createSsl(pki.ca);
    await expect(call(server.port, creds, request(example('aws')))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('refuses a client whose certificate another CA signed', async () => {
    const creds = grpc.credentials.createSsl(pki.ca, pki.rogueKey, pki.rogueCert);
    await expect(call(server.port, creds, request(example('aws')))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('refuses a plaintext client', async () => {
    const creds = grpc.credentials.createInsecure();
    await expect(call(server.port, creds, request(example('aws')))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('exits non-zero when the port is taken', async () => {
    const second = await start([`--address=127.0.0.1:${server.port}`], {
      TLS_SERVER_CERTS_DIR: pki.dir,
    });
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain('cannot listen on');
  });
});

describe('the command line', () => {
  it('exits 1 when the certificates are missing', async () => {
    const s = await start(['--address=127.0.0.1:0', '--tls-server-certs-dir=/nonexistent']);
    expect(await s.exited).toBe(1);
    expect(s.output()).toContain('cannot read TLS file');
  });

  it('accepts the flags of Crossplane Go functions', async () => {
    const s = await start([
      '--debug',
      '--network=tcp',
      '--insecure',
      '--address=127.0.0.1:0',
      '--max-recv-message-size=8',
    ]);
    expect(s.port).toBeGreaterThan(0);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.output()).toContain('"msg":"stopped"');
  });

  it('serves Prometheus metrics on their own port', async () => {
    const s = await start(['--insecure', '--address=127.0.0.1:0', '--metrics-address=127.0.0.1:0']);
    const port = await metricsPort(s);
    await call(s.port, grpc.credentials.createInsecure(), request(example('all-platforms')));
    await call(s.port, grpc.credentials.createInsecure(), request(example('aws'), { input: {} }));
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^cross_platform_secret_calls_total\{result="ok"\} 1$/m);
    expect(text).toMatch(/^cross_platform_secret_calls_total\{result="fatal"\} 1$/m);
    expect(text).toMatch(/^cross_platform_secret_call_duration_seconds_count 2$/m);
    // The four targets of the first call wait for their providers.
    expect(text).toMatch(/^cross_platform_secret_targets\{state="Pending"\} 4$/m);
    expect(text).toContain('process_resident_memory_bytes');
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('answers an unchanged request for a settled composite from its cache', async () => {
    const c = new Cluster(example('aws'));
    const t0 = new Date();
    for (let i = 3; i >= 1; i--) c.reconcile(new Date(t0.getTime() - i * 60_000));
    const settled = request(c.xr, { observed: c.observed });
    const s = await start(['--insecure', '--address=127.0.0.1:0', '--metrics-address=127.0.0.1:0']);
    const port = await metricsPort(s);
    const insecure = grpc.credentials.createInsecure();
    const first = await call(s.port, insecure, settled);
    const second = await call(s.port, insecure, settled);
    const third = await call(s.port, insecure, settled);
    const bytes = (r: RunFunctionResponse) => Buffer.from(RunFunctionResponse.encode(r).finish());
    expect(bytes(second).equals(bytes(first))).toBe(true);
    expect(bytes(third).equals(bytes(first))).toBe(true);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^cross_platform_secret_cached_responses_total 2$/m);
    expect(text).toMatch(/^cross_platform_secret_calls_total\{result="ok"\} 1$/m);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('refuses a malformed metrics address', async () => {
    const s = await start(['--insecure', '--metrics-address=8080']);
    expect(await s.exited).toBe(2);
    expect(s.output()).toContain('--metrics-address: must be host:port or :port, not "8080"');
  });

  it('exits 2 with usage on an unknown flag', async () => {
    const s = await start(['--no-such-flag']);
    expect(await s.exited).toBe(2);
    expect(s.output()).toContain('Usage: function-cross-platform-secret');
  });

  it('refuses a request larger than --max-recv-message-size', async () => {
    const s = await start(['--insecure', '--address=127.0.0.1:0', '--max-recv-message-size=1']);
    const big = request(example('aws'), {
      observed: { filler: { data: { blob: 'x'.repeat(2 * 1024 * 1024) } } },
    });
    await expect(call(s.port, grpc.credentials.createInsecure(), big)).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
    s.child.kill('SIGTERM');
    await s.exited;
  });
});

describe('shutdown', () => {
  it('lets an in-flight call finish before closing', async () => {
    const log = newLogger(false, { write: () => undefined });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const running = await serve(
      {
        address: '127.0.0.1:0',
        network: 'tcp',
        tlsServerCertsDir: '',
        insecure: true,
        debug: false,
        maxRecvMessageSize: 4 << 20,
        metricsAddress: '',
        cacheSize: 0,
      },
      async () => {
        await gate;
        return RunFunctionResponse.fromPartial({ meta: { tag: 'drained' } });
      },
      log,
    );
    const inflight = call(running.port, grpc.credentials.createInsecure(), request(example('aws')));
    await new Promise((r) => setTimeout(r, 200));
    const stopped = running.shutdown(5000);
    let closed = false;
    void stopped.then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(closed).toBe(false);
    release();
    await expect(inflight).resolves.toMatchObject({ meta: { tag: 'drained' } });
    await stopped;
    await expect(
      call(running.port, grpc.credentials.createInsecure(), request(example('aws'))),
    ).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });
});
