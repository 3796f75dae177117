/**
 * The Azure Key Vault adapter against RECORDED PROTOCOL, not against a Key Vault emulator: a
 * loopback HTTPS server replays Key Vault REST responses in their documented shape (the 401
 * bearer challenge, secret and deleted-secret bundles, SecretNotFound, SecretDisabled, 429 with
 * Retry-After, 500, and a server that accepts and never answers). The project's guide asks for
 * a real server; for Azure that is Lowkey Vault, whose runnable app jar
 * (com.github.nagyesta.lowkey-vault:lowkey-vault-app) the reachable Maven Central mirror does
 * not serve, and its Docker image needs a registry this machine cannot reach. What the replay
 * cannot show is whether a real vault answers these shapes; the SDK's own pipeline
 * (challenge authentication, retries, TLS, deserialisation) runs unchanged.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';

import { ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import {
  AzureAdapter,
  azureClients,
  clientSecretCredential,
  vaultUrlOf,
  type AzureLiveTarget,
} from '../src/verify/azure.js';
import { makePki, type Pki } from './pki.js';

const SENTINEL = 'SENTINEL-azure-7c41-"value"\n';
const TOKEN = 'static-test-token-9f2e7b1c4d';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SERVICE_VERSION = '7.6';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const hexVersion = (n: number) => createHash('md5').update(String(n)).digest('hex');

interface Stored {
  version: string;
  value: string;
  /** Unix seconds, as Key Vault's attributes carry them. */
  updated: number;
  deletedDate?: number;
}

type Behaviour =
  'throttle' | 'throttle-briefly' | 'fail' | 'hang' | 'disabled' | 'slow' | 'not-key-vault';

interface Seen {
  path: string;
  apiVersion: string | null;
  authorization: string | undefined;
}

/** Key Vault's data plane for one vault, as far as the adapter reads it. */
class RecordedVault {
  readonly live = new Map<string, Stored>();
  readonly deleted = new Map<string, Stored>();
  readonly behaviour = new Map<string, Behaviour>();
  seen: Seen[] = [];
  inflight = 0;
  maxInflight = 0;

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', `https://${req.headers.host ?? 'localhost'}`);
    this.seen.push({
      path: url.pathname,
      apiVersion: url.searchParams.get('api-version'),
      authorization: req.headers.authorization,
    });
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string, inner?: string) => {
      send(status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } });
    };
    // Key Vault answers a request without a valid bearer token with this challenge; the SDK
    // sends its first request bare on purpose to learn the tenant and resource from it.
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      send(
        401,
        {
          error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer token.' },
        },
        {
          'www-authenticate':
            `Bearer authorization="https://login.microsoftonline.com/${TENANT}", ` +
            'resource="https://vault.azure.net"',
        },
      );
      return;
    }
    const base = `https://${req.headers.host ?? ''}`;
    const live = /^\/secrets\/([^/]+)\/?$/.exec(url.pathname)?.[1];
    if (live !== undefined) {
      this.secret(live, base, send, error);
      return;
    }
    const gone = /^\/deletedsecrets\/([^/]+)\/?$/.exec(url.pathname)?.[1];
    const d = gone === undefined ? undefined : this.deleted.get(gone);
    if (gone !== undefined && d !== undefined) {
      send(200, {
        recoveryId: `${base}/deletedsecrets/${gone}`,
        deletedDate: d.deletedDate,
        scheduledPurgeDate: (d.deletedDate ?? 0) + 90 * 86400,
        id: `${base}/secrets/${gone}/${d.version}`,
        attributes: attributes(d),
      });
      return;
    }
    error(404, 'SecretNotFound', `Deleted Secret not found: ${gone ?? url.pathname}`);
  }

  private secret(
    name: string,
    base: string,
    send: (status: number, body: unknown, headers?: Record<string, string>) => void,
    error: (status: number, code: string, message: string, inner?: string) => void,
  ): void {
    const answer = () => {
      const s = this.live.get(name);
      if (s === undefined) {
        error(
          404,
          'SecretNotFound',
          `A secret with (name/id) ${name} was not found in this key vault. If you recently ` +
            'deleted this secret you may be able to recover it using the correct recovery command.',
        );
        return;
      }
      send(200, {
        value: s.value,
        id: `${base}/secrets/${name}/${s.version}`,
        attributes: attributes(s),
        tags: {},
      });
    };
    switch (this.behaviour.get(name)) {
      case 'hang':
        return;
      case 'throttle':
        send(
          429,
          { error: { code: 'Throttled', message: 'Rate limit is exceeded. Try again in 30s.' } },
          { 'retry-after': '30' },
        );
        return;
      case 'throttle-briefly':
        send(
          429,
          { error: { code: 'Throttled', message: 'Rate limit is exceeded. Try again in 0s.' } },
          { 'retry-after': '0' },
        );
        return;
      case 'fail':
        error(
          500,
          'InternalServerError',
          'An unexpected error occurred. Request id 3fa85f64-5717-4562-b3fc-2c963f66afa6.',
        );
        return;
      case 'disabled':
        error(
          403,
          'Forbidden',
          'Operation get is not allowed on a disabled secret.',
          'SecretDisabled',
        );
        return;
      case 'not-key-vault':
        // What a proxy or a wrong path answers: a 404 that is not Key Vault's SecretNotFound.
        send(404, 'Not Found');
        return;
      case 'slow':
        this.inflight += 1;
        this.maxInflight = Math.max(this.maxInflight, this.inflight);
        setTimeout(() => {
          this.inflight -= 1;
          answer();
        }, 60);
        return;
      default:
        answer();
    }
  }
}

function attributes(s: Stored) {
  return {
    enabled: true,
    created: s.updated,
    updated: s.updated,
    recoveryLevel: 'Recoverable+Purgeable',
    recoverableDays: 90,
  };
}

const tokenRequests: { scopes: string | string[]; tenantId: string | undefined }[] = [];
/** Stands in for workload identity; no identity endpoint is involved. */
const credential: TokenCredential = {
  getToken: (scopes, options) => {
    tokenRequests.push({ scopes, tenantId: options?.tenantId });
    return Promise.resolve({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 });
  },
};

let pki: Pki;
let server: Server;
let vault: RecordedVault;
let url: string;
let clients: ReturnType<typeof azureClients>;
let adapter: AzureAdapter;

const testClients = () =>
  azureClients({
    credential,
    serviceVersion: SERVICE_VERSION,
    retry: { retryDelayInMs: 10, maxRetryDelayInMs: 1000 },
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: pki.ca },
  });

beforeAll(async () => {
  pki = makePki();
  vault = new RecordedVault();
  server = createServer(
    { key: readFileSync(join(pki.dir, 'tls.key')), cert: readFileSync(join(pki.dir, 'tls.crt')) },
    (req, res) => {
      vault.handle(req, res);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  url = `https://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
  clients = testClients();
  adapter = new AzureAdapter(clients);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  vault.live.clear();
  vault.deleted.clear();
  vault.behaviour.clear();
  vault.seen = [];
  vault.maxInflight = 0;
  tokenRequests.length = 0;
});

const budget = () => AbortSignal.timeout(5000);
const target = (id: string, name: string, encoding: AzureLiveTarget['encoding'] = 'Text') => ({
  id,
  vaultUrl: url,
  name,
  encoding,
});
const put = (name: string, value: string, n = 1) => {
  vault.live.set(name, { version: hexVersion(n), value, updated: 1_767_225_600 + n });
};
const attempts = (name: string) =>
  vault.seen.filter((s) => s.path.startsWith(`/secrets/${name}`) && s.authorization).length;

describe('the Azure Key Vault adapter against recorded Key Vault responses', () => {
  it('answers the bearer challenge of the first request; sends the set API version', async () => {
    put('db-password', SENTINEL);
    const fresh = new AzureAdapter(testClients());
    const r = await fresh.observe([target('a', 'db-password')], budget());
    expect(r.get('a')).toMatchObject({ state: 'present' });
    expect(vault.seen).toEqual([
      { path: '/secrets/db-password/', apiVersion: SERVICE_VERSION, authorization: undefined },
      {
        path: '/secrets/db-password/',
        apiVersion: SERVICE_VERSION,
        authorization: `Bearer ${TOKEN}`,
      },
    ]);
    expect(tokenRequests).toEqual([
      { scopes: ['https://vault.azure.net/.default'], tenantId: TENANT },
    ]);
  });

  it('keeps one client per vault URL, so the challenge happens once across passes', async () => {
    put('db-password', 'some-value-1');
    const fresh = new AzureAdapter(testClients());
    await fresh.observe([target('a', 'db-password')], budget());
    await fresh.observe(
      [target('a', 'db-password'), { ...target('b', 'db-password'), vaultUrl: `${url}/` }],
      budget(),
    );
    expect(vault.seen.filter((s) => s.authorization === undefined)).toHaveLength(1);
    expect(vault.seen).toHaveLength(4);
  });

  it('in sync: the version, the update time and the hash of the value', async () => {
    put('db-password', SENTINEL);
    const r = await adapter.observe([target('a', 'db-password')], budget());
    expect(r.get('a')).toEqual({
      state: 'present',
      version: hexVersion(1),
      updatedAt: new Date(1_767_225_601_000).toISOString(),
      valueSha256: sha(SENTINEL),
    });
    expect(JSON.stringify([...r])).not.toContain('SENTINEL');
  });

  it('changed out of band: another version and another hash', async () => {
    put('api-key', 'value-we-wrote');
    const before = (await adapter.observe([target('a', 'api-key')], budget())).get('a');
    put('api-key', 'value-someone-else-wrote', 2);
    const after = (await adapter.observe([target('a', 'api-key')], budget())).get('a');
    expect(before).toMatchObject({ version: hexVersion(1), valueSha256: sha('value-we-wrote') });
    expect(after).toMatchObject({
      state: 'present',
      version: hexVersion(2),
      valueSha256: sha('value-someone-else-wrote'),
    });
  });

  it('missing, and soft-deleted with the version it had', async () => {
    vault.deleted.set('retired', {
      version: hexVersion(3),
      value: 'old-value-123',
      updated: 1_767_000_000,
      deletedDate: 1_767_300_000,
    });
    const r = await adapter.observe(
      [target('none', 'never-made'), target('del', 'retired')],
      budget(),
    );
    expect(r.get('none')).toEqual({ state: 'missing' });
    expect(r.get('del')).toEqual({
      state: 'deleted',
      version: hexVersion(3),
      updatedAt: new Date(1_767_300_000_000).toISOString(),
    });
  });

  it('a 404 that is not SecretNotFound is unknown, not missing', async () => {
    vault.behaviour.set('elsewhere', 'not-key-vault');
    const r = await adapter.observe([target('a', 'elsewhere')], budget());
    expect(r.get('a')?.state).toBe('unknown');
    expect(r.get('a')?.error).toBe('RestError: Unexpected status code: 404');
    expect(vault.seen.some((s) => s.path.startsWith('/deletedsecrets/'))).toBe(false);
  });

  it('a Base64 target hashes the decoded bytes', async () => {
    const bytes = Buffer.from([0, 255, 10, 65]);
    put('cert-der', bytes.toString('base64'));
    const r = await adapter.observe([target('a', 'cert-der', 'Base64')], budget());
    expect(r.get('a')).toMatchObject({ state: 'present', valueSha256: sha(bytes) });
  });

  it('throttled with a long Retry-After: reported at once, not waited out', async () => {
    vault.behaviour.set('busy', 'throttle');
    const started = Date.now();
    const r = await adapter.observe([target('a', 'busy')], budget());
    expect(r.get('a')).toEqual({ state: 'unknown', error: 'throttled by Azure Key Vault' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(attempts('busy')).toBe(1);
  });

  it('throttled with a short Retry-After: one retry, then reported', async () => {
    vault.behaviour.set('busy', 'throttle-briefly');
    const r = await adapter.observe([target('a', 'busy')], budget());
    expect(r.get('a')).toEqual({ state: 'unknown', error: 'throttled by Azure Key Vault' });
    expect(attempts('busy')).toBe(2);
  });

  it('a server error is unknown, with the request id scrubbed from the message', async () => {
    vault.behaviour.set('broken', 'fail');
    const r = await adapter.observe([target('a', 'broken')], budget());
    expect(r.get('a')).toEqual({
      state: 'unknown',
      error: 'InternalServerError: An unexpected error occurred. Request id <id>.',
    });
    expect(attempts('broken')).toBe(2);
  });

  it('a disabled secret is unknown: neither its value nor its version can be read', async () => {
    vault.behaviour.set('off', 'disabled');
    const r = await adapter.observe([target('a', 'off')], budget());
    expect(r.get('a')).toEqual({ state: 'unknown', error: 'the secret is disabled' });
  });

  it('no answer within the budget, while the other targets of the pass still answer', async () => {
    vault.behaviour.set('stuck', 'hang');
    put('db-password', 'answered-value');
    const started = Date.now();
    const r = await adapter.observe(
      [target('stuck', 'stuck'), target('ok', 'db-password')],
      AbortSignal.timeout(800),
    );
    expect(r.get('stuck')).toEqual({ state: 'unknown', error: 'no answer within the time budget' });
    expect(r.get('ok')).toMatchObject({ state: 'present', valueSha256: sha('answered-value') });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('keeps at most four requests in flight', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `s${String(i)}`);
    for (const n of names) {
      put(n, `value-${n}`);
      vault.behaviour.set(n, 'slow');
    }
    const r = await adapter.observe(
      names.map((n) => target(n, n)),
      budget(),
    );
    expect([...r.values()].every((o) => o.state === 'present')).toBe(true);
    expect(vault.maxInflight).toBe(4);
  });

  it('a rejected token is unknown, and the token appears nowhere in the result', async () => {
    put('db-password', SENTINEL);
    const wrong: TokenCredential = {
      getToken: () =>
        Promise.resolve({ token: 'wrong-token-5b8e1d', expiresOnTimestamp: Date.now() + 60_000 }),
    };
    const r = await new AzureAdapter(
      azureClients({
        credential: wrong,
        serviceVersion: SERVICE_VERSION,
        disableChallengeResourceVerification: true,
        tlsOptions: { ca: pki.ca },
      }),
    ).observe([target('a', 'db-password')], budget());
    expect(r.get('a')).toEqual({
      state: 'unknown',
      error: 'Unauthorized: AKV10000: Request is missing a Bearer token.',
    });
    expect(JSON.stringify([...r])).not.toMatch(/wrong-token|SENTINEL/);
  });

  it('with resource verification on, a non-Key Vault host gets no token', async () => {
    put('db-password', SENTINEL);
    const strict = new AzureAdapter(
      azureClients({ credential, serviceVersion: SERVICE_VERSION, tlsOptions: { ca: pki.ca } }),
    );
    const r = await strict.observe([target('a', 'db-password')], budget());
    expect(r.get('a')?.state).toBe('unknown');
    expect(r.get('a')?.error).toMatch(/challenge resource 'vault.azure.net' does not match/);
    expect(tokenRequests).toEqual([]);
    expect(vault.seen.every((s) => s.authorization === undefined)).toBe(true);
  });

  it('the value never leaves the adapter, whatever the state', async () => {
    put('db-password', SENTINEL);
    put('cert-der', Buffer.from(SENTINEL).toString('base64'));
    vault.deleted.set('retired', {
      version: hexVersion(4),
      value: SENTINEL,
      updated: 1,
      deletedDate: 2,
    });
    for (const [n, b] of [
      ['busy', 'throttle'],
      ['broken', 'fail'],
      ['off', 'disabled'],
    ] as const) {
      put(n, SENTINEL);
      vault.behaviour.set(n, b);
    }
    const r = await adapter.observe(
      [
        target('text', 'db-password'),
        target('b64', 'cert-der', 'Base64'),
        target('deleted', 'retired'),
        target('missing', 'never-made'),
        target('busy', 'busy'),
        target('broken', 'broken'),
        target('off', 'off'),
      ],
      budget(),
    );
    expect(r.size).toBe(7);
    expect(r.get('text')?.valueSha256).toBe(sha(SENTINEL));
    expect(r.get('b64')?.valueSha256).toBe(sha(SENTINEL));
    const json = JSON.stringify([...r]);
    expect(json).not.toContain('SENTINEL');
    expect(json).not.toContain(Buffer.from(SENTINEL).toString('base64'));
    expect(json).not.toContain(TOKEN);
  });
});

describe('vaultUrlOf', () => {
  const id = (name: string) =>
    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-secrets' +
    `/providers/Microsoft.KeyVault/vaults/${name}`;

  it('turns an ARM id into the data-plane URL, for the public and a sovereign cloud', () => {
    expect(vaultUrlOf(id('Team-A-kv'))).toBe('https://team-a-kv.vault.azure.net');
    expect(vaultUrlOf(id('team-a-kv'), 'vault.azure.cn')).toBe('https://team-a-kv.vault.azure.cn');
    expect(vaultUrlOf(id('team-a-kv').toLowerCase())).toBe('https://team-a-kv.vault.azure.net');
  });

  it('names the field when the id is malformed', () => {
    for (const bad of [
      'team-a-kv',
      id(''),
      id('a'),
      id('team--kv'),
      id('1team'),
      `${id('team-a-kv')}/secrets/x`,
      id('team-a-kv').replace('Microsoft.KeyVault', 'Microsoft.Storage'),
    ]) {
      expect(() => vaultUrlOf(bad)).toThrow(/^vaultId must be a Key Vault resource id/);
    }
  });
});

describe('clientSecretCredential', () => {
  it('builds a ClientSecretCredential without contacting anything', () => {
    expect(clientSecretCredential(TENANT, 'client-id', 'client-secret')).toBeInstanceOf(
      ClientSecretCredential,
    );
    expect(
      clientSecretCredential(
        TENANT,
        'client-id',
        'client-secret',
        'https://login.chinacloudapi.cn',
      ),
    ).toBeInstanceOf(ClientSecretCredential);
  });
});
