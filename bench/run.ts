/**
 * The benchmark: starts each function on loopback pinned to one core, drives RunFunction from
 * ghz pinned to the other, and writes BENCHMARKS.md. Run with `npm run bench`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { FunctionRunnerServiceService } from '@crossplane-org/function-sdk-typescript';

import { fileURLToPath } from 'node:url';

import { freePort } from '../test/loopback.js';
import { makePki } from '../test/pki.js';
import { encode, goRequest, scenarios } from './payloads.js';

/** This file runs compiled from _output/bench/js/bench/. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const OUT = `${ROOT}_output/bench`;
const GHZ = process.env.GHZ ?? `${ROOT}_output/bin/ghz`;
const GO_FUNCTION = process.env.GO_FUNCTION ?? `${ROOT}_output/bin/go-function`;
const PROTO_DIR = `${OUT}/proto`;
const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const MEMORY_CALLS = Number(process.env.BENCH_MEMORY_CALLS ?? 50_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const CPU_PROFILE = process.env.BENCH_CPU_PROF === '1';
const TICK_MS = 10; // USER_HZ is 100 on Linux

type Mode = 'insecure' | 'mTLS';
type Kind = 'empty' | 'ours' | 'uncached' | 'go';

interface Pki {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** The test certificates, as files for ghz. */
function pkiFiles(): Pki {
  const p = makePki();
  return {
    dir: p.dir,
    ca: join(p.dir, 'ca.crt'),
    cert: join(p.dir, 'client.crt'),
    key: join(p.dir, 'client.key'),
  };
}

interface Server {
  child: ChildProcess;
  port: number;
  startupMs: number;
}

function command(kind: Kind, mode: Mode, port: number, pki: Pki): string[] {
  const address = `--address=127.0.0.1:${port}`;
  const tls = mode === 'insecure' ? ['--insecure'] : [`--tls-server-certs-dir=${pki.dir}`];
  const node = [
    process.execPath,
    // The runtime flags of the Dockerfile's ENTRYPOINT, for our function as it ships.
    ...(kind === 'empty' ? [] : ['--max-semi-space-size=1']),
    ...(CPU_PROFILE && kind === 'ours' ? ['--cpu-prof', `--cpu-prof-dir=${OUT}/profiles`] : []),
  ];
  if (kind === 'empty') return [...node, `${OUT}/js/bench/empty-function.js`, address, ...tls];
  if (kind === 'ours') return [...node, `${ROOT}dist/main.js`, address, ...tls];
  // The same function with its response cache off: every call computed, as for a request
  // that changed since the last one.
  if (kind === 'uncached') {
    return [...node, `${ROOT}dist/main.js`, address, '--cache-size=0', ...tls];
  }
  return [GO_FUNCTION, address, ...tls];
}

function credentials(mode: Mode, pki: Pki): grpc.ChannelCredentials {
  if (mode === 'insecure') return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    readFileSync(pki.ca),
    readFileSync(pki.key),
    readFileSync(pki.cert),
  );
}

const Client = grpc.makeGenericClientConstructor(FunctionRunnerServiceService, 'FunctionRunner');

/** Starts a server pinned to CPU 0 and measures the time to its first answered call. */
async function start(kind: Kind, mode: Mode, pki: Pki, payload: Buffer): Promise<Server> {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const [bin, ...args] = command(kind, mode, port, pki);
  const child = spawn('taskset', ['-c', '0', bin ?? '', ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // Short reconnect backoff: gRPC's default (1 s) would be measured instead of the start-up.
  const client = new Client(`127.0.0.1:${port}`, credentials(mode, pki), {
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.initial_reconnect_backoff_ms': 5,
    'grpc.max_reconnect_backoff_ms': 20,
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      client.makeUnaryRequest(
        FunctionRunnerServiceService.runFunction.path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        payload,
        { deadline: new Date(Date.now() + 1000) },
        (err: grpc.ServiceError | null) => {
          resolve(err === null);
        },
      );
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${kind} did not answer within 30 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  client.close();
  const startupMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { child, port, startupMs };
}

function stop(s: Server): Promise<void> {
  return new Promise((resolve) => {
    s.child.on('exit', () => {
      resolve();
    });
    s.child.kill('SIGTERM');
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb) / 1024;
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

interface Load {
  p50: number;
  p99: number;
  rps: number;
  cpuUsPerCall: number;
  errors: number;
}

function ghz(server: Server, mode: Mode, pki: Pki, file: string, calls: number): Load {
  const pid = server.child.pid ?? 0;
  const before = cpuMs(pid);
  const tls =
    mode === 'insecure'
      ? ['--insecure']
      : ['--cacert', pki.ca, '--cert', pki.cert, '--key', pki.key, '--cname', 'localhost'];
  const out = execFileSync(
    'taskset',
    [
      '-c',
      '1',
      GHZ,
      '--proto',
      `${PROTO_DIR}/run_function.proto`,
      '--import-paths',
      PROTO_DIR,
      '--call',
      'apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction',
      '-B',
      file,
      '-n',
      String(calls),
      '-c',
      String(CONCURRENCY),
      '--connections',
      '1',
      '-O',
      'json',
      ...tls,
      `127.0.0.1:${server.port}`,
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const r = JSON.parse(out) as {
    rps: number;
    count: number;
    latencyDistribution: { percentage: number; latency: number }[] | null;
    statusCodeDistribution: Record<string, number>;
  };
  const pct = (p: number) =>
    (r.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? NaN) / 1e6;
  const ok = r.statusCodeDistribution.OK ?? 0;
  return {
    p50: pct(50),
    p99: pct(99),
    rps: r.rps,
    cpuUsPerCall: ((cpuMs(pid) - before) * 1000) / Math.max(1, r.count),
    errors: r.count - ok,
  };
}

interface Row {
  kind: Kind;
  mode: Mode;
  scenario: string;
  targets: number;
  load: Load;
}

interface Life {
  kind: Kind;
  mode: Mode;
  startupMs: number;
  rssStart: number;
  rss50k: number;
  rss100k: number;
}

const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

async function main(): Promise<void> {
  mkdirSync(`${OUT}/payloads`, { recursive: true });
  const pki = pkiFiles();
  const all = scenarios().map((s, i) => {
    const file = `${OUT}/payloads/${i}.bin`;
    writeFileSync(file, encode(s.request));
    return { ...s, file };
  });
  const steady4 = all.find((s) => s.name === 'steady state' && s.targets === 4);
  if (steady4 === undefined) throw new Error('no 4-target steady-state scenario');
  const goFile = `${OUT}/payloads/go.bin`;
  writeFileSync(goFile, encode(goRequest(steady4.request)));

  const rows: Row[] = [];
  const lives: Life[] = [];
  for (const mode of ['insecure', 'mTLS'] as Mode[]) {
    for (const kind of ['empty', 'ours', 'uncached', 'go'] as Kind[]) {
      const runs =
        kind === 'go' ? [{ ...steady4, file: goFile }] : kind === 'uncached' ? [steady4] : all;
      const first = readFileSync(runs[0]?.file ?? '');
      const server = await start(kind, mode, pki, first);
      for (const s of runs) {
        ghz(server, mode, pki, s.file, Math.min(2000, CALLS));
        const load = ghz(server, mode, pki, s.file, CALLS);
        rows.push({ kind, mode, scenario: s.name, targets: s.targets, load });
        process.stderr.write(
          `${mode} ${kind} ${s.name} x${s.targets}: p50 ${f(load.p50)} ms, ${f(load.rps, 0)}/s\n`,
        );
      }
      await stop(server);

      // Memory on a fresh process: after start, after 50,000 and after 100,000 calls.
      const file = kind === 'go' ? goFile : steady4.file;
      const fresh = await start(kind, mode, pki, readFileSync(file));
      const pid = fresh.child.pid ?? 0;
      const rssStart = rssMiB(pid);
      ghz(fresh, mode, pki, file, MEMORY_CALLS);
      const rss50k = rssMiB(pid);
      ghz(fresh, mode, pki, file, MEMORY_CALLS);
      const rss100k = rssMiB(pid);
      lives.push({ kind, mode, startupMs: fresh.startupMs, rssStart, rss50k, rss100k });
      await stop(fresh);
    }
  }
  writeReport(rows, lives);
}

function writeReport(rows: Row[], lives: Life[]): void {
  const name = {
    empty: 'empty function (same SDK)',
    ours: 'function-cross-platform-secret',
    uncached: 'function-cross-platform-secret, cache off',
    go: 'Go function (function-sdk-go)',
  };
  const lines: string[] = [];
  lines.push('# Benchmarks', '');
  lines.push(
    `Command: \`npm run bench\` (BENCH_CALLS=${CALLS}, BENCH_MEMORY_CALLS=${MEMORY_CALLS}, ` +
      `concurrency ${CONCURRENCY} over one connection).`,
  );
  lines.push(
    `Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${cpus().length} cores ` +
      `(${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}.`,
  );
  lines.push(
    'Each function runs pinned to core 0 (`taskset -c 0`); ghz runs pinned to core 1.',
    '',
  );
  lines.push('## Latency, throughput and CPU per call', '');
  lines.push(
    '| mode | function | call | targets | p50 ms | p99 ms | calls/s | CPU µs/call | errors |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    lines.push(
      row([
        r.mode,
        name[r.kind],
        r.scenario,
        String(r.targets),
        f(r.load.p50),
        f(r.load.p99),
        f(r.load.rps, 0),
        f(r.load.cpuUsPerCall, 0),
        String(r.load.errors),
      ]),
    );
  }
  lines.push('', '## Ratios for the 4-target steady-state call', '');
  lines.push(
    row(
      ['mode', 'ours / empty p50', 'ours / empty p99', 'ours / Go p50', 'ours / Go p99'].concat(
        'ours / Go calls/s',
        'cache off / empty p50',
        'cache off / empty p99',
        'cache off / Go p50',
      ),
    ),
  );
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const mode of ['insecure', 'mTLS'] as Mode[]) {
    const pick = (k: Kind) =>
      rows.find(
        (r) => r.mode === mode && r.kind === k && r.scenario === 'steady state' && r.targets === 4,
      )?.load;
    const [o, e, g, u] = [pick('ours'), pick('empty'), pick('go'), pick('uncached')];
    if (o === undefined || e === undefined || g === undefined || u === undefined) continue;
    lines.push(
      row([
        mode,
        f(o.p50 / e.p50),
        f(o.p99 / e.p99),
        f(o.p50 / g.p50),
        f(o.p99 / g.p99),
        f(o.rps / g.rps),
        f(u.p50 / e.p50),
        f(u.p99 / e.p99),
        f(u.p50 / g.p50),
      ]),
    );
  }
  lines.push('', '## Start-up and memory (4-target steady-state calls)', '');
  lines.push(
    row(
      ['mode', 'function', 'start to first answer ms', 'RSS after start MiB'].concat(
        'after 50,000 calls',
        'after 100,000 calls',
        'growth 50k→100k',
      ),
    ),
  );
  lines.push('|---|---|---|---|---|---|---|');
  for (const l of lives) {
    lines.push(
      row([
        l.mode,
        name[l.kind],
        f(l.startupMs, 0),
        f(l.rssStart, 1),
        f(l.rss50k, 1),
        f(l.rss100k, 1),
        `${f(((l.rss100k - l.rss50k) / l.rss50k) * 100, 1)}%`,
      ]),
    );
  }
  writeFileSync(`${OUT}/BENCHMARKS.generated.md`, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
