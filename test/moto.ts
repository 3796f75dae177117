/**
 * moto's server for AWS Secrets Manager, started on loopback for the tests. .ci/run installs it
 * from PyPI; a missing install fails the tests loudly instead of skipping them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

import { freePort, waitForHttp } from './loopback.js';

export interface Moto {
  endpoint: string;
  stop(): void;
}

/** A client of moto's Secrets Manager with the keys moto accepts, for writing test data. */
export function motoClient(moto: Moto, region = 'us-east-1'): SecretsManagerClient {
  return new SecretsManagerClient({
    region,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

export async function startMoto(): Promise<Moto> {
  const python = process.env.PYTHON ?? 'python3';
  const check = spawnSync(python, ['-c', 'import moto.server'], { encoding: 'utf8' });
  if (check.status !== 0) {
    throw new Error(`moto is not installed for ${python}: pip install 'moto[server]==5.2.5'`);
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    python,
    ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)],
    { stdio: 'ignore' },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  await waitForHttp(`${endpoint}/moto-api/data.json`, 'moto', () => child.kill());
  return { endpoint, stop: () => child.kill() };
}
