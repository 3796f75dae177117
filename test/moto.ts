/**
 * moto's server for AWS Secrets Manager, started on loopback for the tests. .ci/run installs it
 * from PyPI; a missing install fails the tests loudly instead of skipping them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Moto {
  endpoint: string;
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
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/moto-api/data.json`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('moto did not start within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, stop: () => child.kill() };
}
