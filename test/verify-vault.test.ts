/**
 * The Vault adapter against OpenBao's dev server on loopback, KV v2 and KV v1: in sync, changed
 * out of band, missing, soft-deleted, throttled by a real rate-limit quota, and a server that
 * never answers.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { VaultAdapter, vaultClient, type VaultLiveTarget } from '../src/verify/vault.js';
import { startOpenBao, type OpenBao } from './openbao.js';
import { listenLoopback } from './loopback.js';

const SENTINEL = 'SENTINEL-vault-5d2a-"value"\n';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let bao: OpenBao;
let admin: ReturnType<typeof vaultClient>;
let adapter: VaultAdapter;

beforeAll(async () => {
  bao = await startOpenBao();
  admin = vaultClient(bao.endpoint, bao.token);
  adapter = new VaultAdapter(vaultClient(bao.endpoint, bao.token));
  await admin.mount({ mount_point: 'kv1', type: 'kv', options: { version: '1' } });
});

afterAll(() => {
  bao.stop();
});

const budget = () => AbortSignal.timeout(5000);
const v2 = (id: string, path: string, key = 'password'): VaultLiveTarget => ({
  id,
  mount: 'secret',
  path,
  key,
  kvVersion: 2,
  encoding: 'Text',
});

describe('the Vault adapter against OpenBao', () => {
  it('KV v2 in sync: hash and metadata version', async () => {
    await admin.write('secret/data/team-a/db', { data: { password: SENTINEL } });
    const r = await adapter.observe([v2('a', 'team-a/db')], budget());
    expect(r.get('a')).toMatchObject({
      state: 'present',
      version: '1',
      valueSha256: sha(SENTINEL),
    });
    expect(JSON.stringify([...r])).not.toContain('SENTINEL');
  });

  it('KV v2 changed out of band: a new version and another hash', async () => {
    await admin.write('secret/data/team-a/edited', { data: { password: 'first-value' } });
    await admin.write('secret/data/team-a/edited', { data: { password: 'edited-value' } });
    const r = await adapter.observe([v2('a', 'team-a/edited')], budget());
    expect(r.get('a')).toMatchObject({ version: '2', valueSha256: sha('edited-value') });
  });

  it('KV v2 missing path, missing key, and soft-deleted latest version', async () => {
    await admin.write('secret/data/team-a/gone', { data: { password: 'x-value-123' } });
    await admin.delete('secret/data/team-a/gone');
    const r = await adapter.observe(
      [v2('none', 'team-a/never'), v2('key', 'team-a/db', 'other'), v2('deleted', 'team-a/gone')],
      budget(),
    );
    expect(r.get('none')).toEqual({ state: 'missing' });
    expect(r.get('key')).toEqual({ state: 'missing' });
    expect(r.get('deleted')).toEqual({ state: 'deleted', version: '1' });
  });

  it('KV v1 and a Base64 value', async () => {
    const bytes = Buffer.from([0, 255, 10, 65]);
    await admin.write('kv1/team-a/bin', { key: bytes.toString('base64') });
    const r = await adapter.observe(
      [{ id: 'a', mount: 'kv1', path: 'team-a/bin', key: 'key', kvVersion: 1, encoding: 'Base64' }],
      budget(),
    );
    expect(r.get('a')).toEqual({ state: 'present', valueSha256: sha(bytes) });
  });

  it('a rate-limit quota makes it throttled, never an exception', async () => {
    await admin.write('secret/data/team-q/x', { data: { password: 'quota-value' } });
    await admin.write('sys/quotas/rate-limit/tight', { path: 'secret/', rate: 1, interval: '10s' });
    const targets = Array.from({ length: 6 }, (_, i) => v2(`t${String(i)}`, 'team-q/x'));
    const r = await adapter.observe(targets, budget());
    const states = [...r.values()].map((o) => o.error ?? o.state);
    expect(states).toContain('throttled by Vault');
    await admin.delete('sys/quotas/rate-limit/tight');
  });
});

describe('the Vault adapter when Vault does not answer', () => {
  const hang = createServer(() => undefined);
  let hangPort = 0;

  beforeAll(async () => {
    hangPort = (await listenLoopback(hang)).port;
  });

  afterAll(() => {
    hang.closeAllConnections();
    hang.close();
  });

  it('is unknown within the budget', async () => {
    const silent = new VaultAdapter(vaultClient(`http://127.0.0.1:${String(hangPort)}`, 'root'));
    const started = Date.now();
    const r = await silent.observe([v2('a', 'x')], AbortSignal.timeout(300));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.get('a')).toEqual({ state: 'unknown', error: 'no answer within the time budget' });
  });
});

describe('the Vault adapter when something else answers at the address', () => {
  const answers: [number, string, string][] = [
    [200, 'text/html', '<html>sign in</html>'],
    [200, 'application/json', '{}'],
    [200, 'application/json', '{"data":{"data":"not an object"}}'],
    [404, 'text/plain', 'not found'],
    [404, 'application/json', '{}'],
  ];
  let i = 0;
  const other = createServer((_req, res) => {
    const [status, type, body] = answers[i] ?? [500, 'text/plain', ''];
    res.writeHead(status, { 'Content-Type': type }).end(body);
  });
  let otherPort = 0;

  beforeAll(async () => {
    otherPort = (await listenLoopback(other)).port;
  });

  afterAll(() => {
    other.close();
  });

  it('is unknown, never missing: a proxy or a wrong address proves nothing', async () => {
    const wrong = new VaultAdapter(vaultClient(`http://127.0.0.1:${String(otherPort)}`, 'root'));
    for (i = 0; i < answers.length; i++) {
      const r = await wrong.observe([v2('a', 'x')], budget());
      expect([i, r.get('a')?.state]).toEqual([i, 'unknown']);
    }
  });

  it('a key named like a property of every object is missing, not present', async () => {
    await admin.write('secret/data/team-a/proto', { data: { password: 'proto-value-1' } });
    const r = await adapter.observe([v2('a', 'team-a/proto', 'constructor')], budget());
    expect(r.get('a')).toEqual({ state: 'missing' });
  });

  it('Base64 target, text not in base64: matches nothing and is never kept', async () => {
    await admin.write('secret/data/team-a/b64', { data: { password: 'not base64 at all!' } });
    const t = { ...v2('a', 'team-a/b64'), encoding: 'Base64' as const, capture: true };
    const r = await adapter.observe([t], budget());
    expect(r.get('a')).toMatchObject({ state: 'present', valueSha256: sha('not base64 at all!') });
    expect(r.get('a')?.captured).toBeUndefined();
  });
});
