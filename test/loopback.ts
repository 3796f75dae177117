/** Helpers for peers the tests start on loopback. */
import { createServer, type Server } from 'node:net';

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

export interface CountingProxy {
  url: string;
  /** Requests forwarded so far. */
  count(): number;
  stop(): void;
}

/** An HTTP proxy on loopback that counts the requests it forwards to `target`. */
export async function countingProxy(target: string): Promise<CountingProxy> {
  const { createServer: createHttp, request } = await import('node:http');
  const to = new URL(target);
  let n = 0;
  const server = createHttp((req, res) => {
    n++;
    const out = request(
      {
        host: to.hostname,
        port: to.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: to.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    count: () => n,
    stop: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Listens on a free loopback port; resolves with its URL (for HTTP servers) and port. */
export async function listenLoopback(server: Server): Promise<{ url: string; port: number }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return { url: `http://127.0.0.1:${String(port)}`, port };
}
