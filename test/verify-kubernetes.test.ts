/**
 * The Kubernetes adapter against a real kube-apiserver (with etcd) on loopback: in sync,
 * changed out of band, missing Secret, missing key, deleted behind a finalizer, binary data,
 * a wrong token, and servers that throttle or never answer.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CoreV1Api,
  KubeConfig,
  V1Namespace,
  V1ObjectMeta,
  V1Secret,
} from '@kubernetes/client-node';

import {
  KubernetesAdapter,
  kubernetesClient,
  type KubernetesLiveTarget,
} from '../src/verify/kubernetes.js';
import { startKubeApiServer, type KubeApiServer } from './kube-apiserver.js';
import { listenLoopback } from './loopback.js';

const SENTINEL = 'SENTINEL-kube-7c1e-"value"\n';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const b64 = (v: Buffer | string) => Buffer.from(v).toString('base64');
const NS = 'team-a';

let kube: KubeApiServer;
let core: CoreV1Api;
let adapter: KubernetesAdapter;

beforeAll(async () => {
  kube = await startKubeApiServer();
  const kc = kubernetesClient(kube.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  adapter = new KubernetesAdapter(kc);
  const ns = new V1Namespace();
  ns.metadata = meta(NS);
  await core.createNamespace({ body: ns });
}, 180_000);

afterAll(async () => {
  await kube.stop();
});

const budget = () => AbortSignal.timeout(5000);
const target = (id: string, name: string, key = 'password'): KubernetesLiveTarget => ({
  id,
  namespace: NS,
  name,
  key,
});

function meta(name: string, finalizers?: string[]): V1ObjectMeta {
  const m = new V1ObjectMeta();
  m.name = name;
  if (finalizers !== undefined) m.finalizers = finalizers;
  return m;
}

function body(name: string, data: Record<string, string>, finalizers?: string[]): V1Secret {
  const s = new V1Secret();
  s.metadata = meta(name, finalizers);
  s.data = data;
  return s;
}

async function secret(name: string, data: Record<string, string>, finalizers?: string[]) {
  const s = await core.createNamespacedSecret({
    namespace: NS,
    body: body(name, data, finalizers),
  });
  return s.metadata?.resourceVersion;
}

/** A kubeconfig for a server that is not the real one. */
function configFor(server: string, token = kube.token): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('the Kubernetes adapter against kube-apiserver', () => {
  it('in sync: the hash of the decoded value, resourceVersion and the last write', async () => {
    // managedFields times have whole seconds.
    const before = Math.floor(Date.now() / 1000) * 1000;
    const rv = await secret('db', { password: b64(SENTINEL), other: b64('x') });
    const r = await adapter.observe([target('a', 'db')], budget());
    const o = r.get('a');
    expect(o).toMatchObject({ state: 'present', version: rv, valueSha256: sha(SENTINEL) });
    expect(Date.parse(o?.updatedAt ?? '')).toBeGreaterThanOrEqual(before);
    const text = JSON.stringify([...r]);
    expect(text).not.toContain('SENTINEL');
    expect(text).not.toContain(b64(SENTINEL));
  });

  it('changed out of band: a new resourceVersion and another hash', async () => {
    const first = await secret('edited', { password: b64('first-value') });
    const replaced = await core.replaceNamespacedSecret({
      name: 'edited',
      namespace: NS,
      body: body('edited', { password: b64('edited-value') }),
    });
    const r = await adapter.observe([target('a', 'edited')], budget());
    expect(r.get('a')).toMatchObject({
      state: 'present',
      version: replaced.metadata?.resourceVersion,
      valueSha256: sha('edited-value'),
    });
    expect(r.get('a')?.version).not.toBe(first);
  });

  it('a missing Secret and a missing key are missing, never an exception', async () => {
    const r = await adapter.observe(
      [target('none', 'never-created'), target('key', 'db', 'absent')],
      budget(),
    );
    expect(r.get('none')).toEqual({ state: 'missing' });
    expect(r.get('key')).toEqual({ state: 'missing' });
  });

  it('deleted: a finalizer holds the Secret with its deletionTimestamp set', async () => {
    await secret('held', { password: b64('held-value') }, ['example.com/hold']);
    await core.deleteNamespacedSecret({ name: 'held', namespace: NS });
    const r = await adapter.observe([target('a', 'held')], budget());
    const o = r.get('a');
    expect(o?.state).toBe('deleted');
    expect(o?.version).toMatch(/^\d+$/);
    expect(o?.valueSha256).toBeUndefined();
    expect(Number.isNaN(Date.parse(o?.updatedAt ?? ''))).toBe(false);
    // Let the Secret go, so the finalizer does not outlive the test.
    await core.replaceNamespacedSecret({
      name: 'held',
      namespace: NS,
      body: body('held', { password: b64('held-value') }, []),
    });
    const after = await adapter.observe([target('a', 'held')], budget());
    expect(after.get('a')).toEqual({ state: 'missing' });
  });

  it('binary data: the hash of the bytes, not of their base64 text', async () => {
    const bytes = Buffer.from([0, 255, 10, 65, 0x80]);
    await secret('bin', { 'tls.key': b64(bytes) });
    const r = await adapter.observe([target('a', 'bin', 'tls.key')], budget());
    expect(r.get('a')?.valueSha256).toBe(sha(bytes));
  });

  it('keeps the bytes only for a target that asks to capture them', async () => {
    const bytes = Buffer.from('origin-value\n');
    await secret('origin', { password: b64(bytes) });
    const r = await adapter.observe(
      [{ ...target('kept', 'origin'), capture: true }, target('plain', 'origin')],
      budget(),
    );
    expect(r.get('kept')?.captured).toEqual(bytes);
    expect(r.get('plain')).not.toHaveProperty('captured');
  });

  it('observes many targets, each under its own id', async () => {
    const names = Array.from({ length: 9 }, (_, i) => `many-${String(i)}`);
    await Promise.all(names.map((n) => secret(n, { password: b64(`value-${n}`) })));
    const r = await adapter.observe(
      names.map((n) => target(n, n)),
      budget(),
    );
    expect([...r.keys()].sort()).toEqual([...names].sort());
    for (const n of names) expect(r.get(n)?.valueSha256).toBe(sha(`value-${n}`));
  });

  it('a token the server refuses is unknown, with the status message and no token', async () => {
    const refused = new KubernetesAdapter(configFor(kube.server, 'not-a-token-0123456789'));
    const r = await refused.observe([target('a', 'db')], budget());
    expect(r.get('a')).toEqual({ state: 'unknown', error: 'Kubernetes API 401: Unauthorized' });
  });

  it('kubernetesClient refuses a context the kubeconfig does not have', () => {
    expect(() => kubernetesClient(kube.kubeconfigPath, 'elsewhere')).toThrow(
      'the kubeconfig has no context named elsewhere',
    );
    expect(kubernetesClient(kube.kubeconfigPath, 'test').getCurrentCluster()?.server).toBe(
      kube.server,
    );
  });
});

describe('the Kubernetes adapter when the API server throttles', () => {
  // kube-apiserver sheds load with 429 only under real overload, so a loopback stand-in
  // answers every request with the Status body that kube-apiserver sends then.
  const throttling = createHttpServer((_req, res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        message: 'Too many requests, please try again later.',
        reason: 'TooManyRequests',
        code: 429,
      }),
    );
  });
  let throttlingPort = 0;

  beforeAll(async () => {
    throttlingPort = (await listenLoopback(throttling)).port;
  });

  afterAll(() => {
    throttling.close();
  });

  it('is unknown, throttled', async () => {
    const r = await new KubernetesAdapter(
      configFor(`http://127.0.0.1:${String(throttlingPort)}`),
    ).observe([target('a', 'db')], budget());
    expect(r.get('a')).toEqual({ state: 'unknown', error: 'throttled by the Kubernetes API' });
  });
});

describe('the Kubernetes adapter when the API server does not answer', () => {
  // Accepts connections and never says a word, not even the TLS handshake.
  const sockets = new Set<Socket>();
  let closed = 0;
  const hang = createServer((s) => {
    sockets.add(s);
    // Reading (and dropping) the client's hello is what lets this side see it hang up.
    s.resume();
    s.on('close', () => {
      closed += 1;
    });
  });
  let hangPort = 0;

  beforeAll(async () => {
    hangPort = (await listenLoopback(hang)).port;
  });

  afterAll(() => {
    for (const s of sockets) s.destroy();
    hang.close();
  });

  it('is unknown within the budget, with at most 4 reads in flight', async () => {
    const silent = new KubernetesAdapter(configFor(`https://127.0.0.1:${String(hangPort)}`));
    const targets = Array.from({ length: 10 }, (_, i) => target(`t${String(i)}`, 'db'));
    const started = Date.now();
    const r = await silent.observe(targets, AbortSignal.timeout(300));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.size).toBe(10);
    for (const o of r.values()) {
      expect(o).toEqual({ state: 'unknown', error: 'no answer within the time budget' });
    }
    expect(sockets.size).toBeLessThanOrEqual(4);
    // The budget reaches the requests themselves: the client hangs up rather than waiting.
    for (let i = 0; i < 40 && closed < sockets.size; i++) {
      await new Promise((res) => setTimeout(res, 25));
    }
    expect(closed).toBe(sockets.size);
  });
});
