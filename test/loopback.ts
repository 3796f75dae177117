/** Helpers for peers the tests start on loopback. */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
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

/** Polls a URL until it answers 2xx; throws after 30 s so a peer that never starts fails loudly. */
export async function waitForHttp(url: string, what: string, stop: () => void): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`${what} did not start within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
