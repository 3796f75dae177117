/**
 * Live verification inside the function, against moto's Secrets Manager and OpenBao on
 * loopback. A small stand-in for the providers writes each target's desired value to the real
 * servers when its managed resource changes, as provider-aws and provider-vault would; values
 * are edited out of band with the servers' own APIs.
 */
import { createServer as createTcp } from 'node:net';

import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { Severity, type RunFunctionResponse } from '@crossplane-org/function-sdk-typescript';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { handle } from '../src/function.js';
import { Metrics } from '../src/metrics.js';
import { ANNOTATION_ROTATE } from '../src/names.js';
import type { Obj } from '../src/observe.js';
import { Engine } from '../src/verify/engine.js';
import { Adapters } from '../src/verify/live.js';
import { vaultClient } from '../src/verify/vault.js';
import {
  compositionInput,
  desiredObjects,
  request,
  testDeps,
  userVisibleStrings,
  type TestDeps,
} from './helpers.js';
import { countingProxy, listenLoopback, type CountingProxy } from './loopback.js';
import { motoClient, startMoto, type Moto } from './moto.js';
import { startOpenBao, type OpenBao } from './openbao.js';
import { reconcile } from './provider-sim.js';

const AWS_SENTINEL = 'SENTINEL-live-aws-7c1e';
const VAULT_SENTINEL = 'SENTINEL-live-vault-93ad';

let moto: Moto;
let bao: OpenBao;
let awsProxy: CountingProxy;
let baoProxy: CountingProxy;
let aws: SecretsManagerClient;
let admin: ReturnType<typeof vaultClient>;

beforeAll(async () => {
  [moto, bao] = await Promise.all([startMoto(), startOpenBao()]);
  [awsProxy, baoProxy] = await Promise.all([
    countingProxy(moto.endpoint),
    countingProxy(bao.endpoint),
  ]);
  aws = motoClient(moto);
  admin = vaultClient(bao.endpoint, bao.token);
}, 60_000);

afterAll(() => {
  awsProxy.stop();
  baoProxy.stop();
  moto.stop();
  bao.stop();
});

function composite(name: string, opts: { alert?: boolean; origin?: boolean } = {}): Obj {
  return {
    apiVersion: 'secrets.crossplatform.io/v1alpha1',
    kind: 'CrossPlatformSecret',
    metadata: { name, namespace: 'team-a' },
    spec: {
      value: { generate: { length: 32 } },
      ...(opts.alert === true
        ? { drift: { policy: 'Alert' }, deletion: { policy: 'Orphan' } }
        : {}),
      targets: [
        {
          name: 'aws',
          ...(opts.alert === true ? { providerConfigRef: { name: 'aws' } } : {}),
          aws: { region: 'us-east-1', name: `team-a/${name}` },
        },
        {
          name: 'vault',
          ...(opts.origin === true ? { origin: true } : {}),
          ...(opts.alert === true ? { providerConfigRef: { name: 'vault' } } : {}),
          vault: { mount: 'secret', path: `team-a/${name}`, key: 'password' },
        },
      ],
    },
  };
}

function input(vaultAddress = baoProxy.url): Obj {
  return {
    ...compositionInput(),
    verification: {
      budget: '3s',
      aws: { credentials: 'aws', endpoint: awsProxy.url },
      vault: { address: vaultAddress, credentials: 'vault' },
    },
  };
}

const CREDENTIALS = {
  aws: {
    credentialData: {
      data: {
        credentials: Buffer.from(
          '[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n',
        ),
      },
    },
  },
  vault: { credentialData: { data: { credentials: Buffer.from('{"token":"root"}') } } },
};

/** A composite's life: calls through `handle`, and providers that write to the real servers. */
class Life {
  xr: Obj;
  observed: Record<string, Obj> = {};
  last!: RunFunctionResponse;
  readonly deps: TestDeps & { live: { engine: Engine; adapters: Adapters } };
  readonly metrics = new Metrics({ defaults: false });
  clock = Date.now();
  /** What each managed resource looked like when its provider last wrote. */
  private written = new Map<string, string>();

  constructor(
    xr: Obj,
    private readonly inputDoc: Obj = input(),
    private readonly credentials: object = CREDENTIALS,
  ) {
    this.xr = xr;
    const engine = new Engine({
      unknownTtlMs: 30_000,
      now: () => this.clock,
      onCall: (p, n, e, s) => {
        this.metrics.verification(p, n, e, s);
      },
    });
    this.deps = { ...testDeps(), live: { engine, adapters: new Adapters() } };
  }

  async call(opts: { provide?: boolean } = {}): Promise<RunFunctionResponse> {
    const req = request(this.xr, { observed: this.observed, input: this.inputDoc });
    req.credentials = this.credentials as never;
    const rsp = await handle(req, this.deps);
    this.metrics.call('team-a/x', rsp, 0.001);
    this.last = rsp;
    const status = rsp.desired?.composite?.resource?.status as Obj | undefined;
    if (status !== undefined) this.xr = { ...this.xr, status };
    if (opts.provide !== false) await this.provide(rsp);
    this.observed = reconcile(desiredObjects(rsp), this.observed);
    return rsp;
  }

  /** Writes a target's value when its managed resource changed, as a provider reconciles. */
  private async provide(rsp: RunFunctionResponse): Promise<void> {
    const desired = desiredObjects(rsp);
    const data = (desired.store?.data ?? {}) as Record<string, string>;
    const spec = this.xr.spec as { targets: { name: string; aws?: Obj; vault?: Obj }[] };
    for (const [key, o] of Object.entries(desired)) {
      const seen = JSON.stringify([o.spec, (o.metadata as Obj).annotations]);
      if (this.written.get(key) === seen) continue;
      // Management policies without Update: the provider creates the secret, never overwrites it.
      const policies = ((o.spec as Obj | undefined)?.managementPolicies ?? ['*']) as string[];
      const updates = policies.includes('*') || policies.includes('Update');
      if (!updates && this.written.has(key)) continue;
      const fp = ((o.spec as Obj | undefined)?.forProvider ?? {}) as Record<string, Obj>;
      if (o.kind === 'SecretVersion') {
        const ref = fp.secretStringSecretRef as { key: string };
        const value = Buffer.from(data[ref.key] ?? '', 'base64').toString('utf8');
        const name = String(spec.targets.find((t) => t.name === 'aws')?.aws?.name);
        await putAws(name, value);
      } else if (o.kind === 'SecretV2') {
        const ref = fp.dataJsonSecretRef as { key: string };
        const doc = JSON.parse(Buffer.from(data[ref.key] ?? '', 'base64').toString('utf8')) as Obj;
        await admin.write(`secret/data/${fp.name as unknown as string}`, { data: doc });
      } else continue;
      this.written.set(key, seen);
    }
  }

  target(name: string): {
    drift: { state: string; reason: string };
    live?: { state: string; version?: number; message: string };
  } {
    const status = this.xr.status as { targets: { name: string }[] };
    return status.targets.find((t) => t.name === name) as never;
  }

  annotations(key: string): Record<string, string> {
    const o = desiredObjects(this.last)[key];
    return ((o?.metadata as Obj | undefined)?.annotations ?? {}) as Record<string, string>;
  }

  /** Every string a user, a log reader or a metrics scraper can see. */
  async visible(): Promise<string> {
    return [
      ...userVisibleStrings(this.last, this.deps.logs),
      await this.metrics.registry.metrics(),
    ].join('\n');
  }
}

async function putAws(name: string, value: string): Promise<void> {
  try {
    await aws.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  } catch {
    await aws.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
  }
}

function storedValue(rsp: RunFunctionResponse, version: number): string {
  const data = (desiredObjects(rsp).store?.data ?? {}) as Record<string, string>;
  return Buffer.from(data[`v${String(version)}`] ?? '', 'base64').toString('utf8');
}

describe('live verification in the function', () => {
  it('reports both targets in sync once the providers have written', async () => {
    const life = new Life(composite('in-sync'));
    await life.call();
    await life.call();
    expect(life.target('aws').live).toMatchObject({ state: 'InSync', version: 1 });
    expect(life.target('vault').live).toMatchObject({ state: 'InSync', version: 1 });
    expect(life.target('vault').drift.state).toBe('InSync');
  });

  it('1,000 calls within the TTL read each target once', async () => {
    const life = new Life(composite('cached'));
    await life.call();
    const before = [awsProxy.count(), baoProxy.count()];
    await life.call();
    const afterFirst = [awsProxy.count() - (before[0] ?? 0), baoProxy.count() - (before[1] ?? 0)];
    for (let i = 0; i < 1000; i++) await life.call({ provide: false });
    const total = [awsProxy.count() - (before[0] ?? 0), baoProxy.count() - (before[1] ?? 0)];
    // One read per target: DescribeSecret and GetSecretValue for AWS, one GET for Vault.
    expect(afterFirst).toEqual([2, 1]);
    expect(total).toEqual(afterFirst);
    const text = await life.metrics.registry.metrics();
    // Two reads per target in all: before the providers wrote, and once after.
    expect(text).toMatch(/verification_reads_total\{platform="aws"\} 2\n/);
    expect(text).toMatch(/verification_reads_total\{platform="vault"\} 2\n/);
    expect(life.target('aws').live?.state).toBe('InSync');
  }, 120_000);

  it('Alert: a value changed out of band is drift, reported and not overwritten', async () => {
    const life = new Life(composite('alert', { alert: true }));
    await life.call();
    await life.call();
    expect(life.target('vault').live?.state).toBe('InSync');
    await admin.write('secret/data/team-a/alert', { data: { password: VAULT_SENTINEL } });
    await putAws('team-a/alert', AWS_SENTINEL);
    life.clock += 6 * 60_000;
    const rsp = await life.call();
    for (const t of ['aws', 'vault']) {
      expect(life.target(t).drift).toMatchObject({ state: 'Drifted', reason: 'LiveValueDiffers' });
      expect(life.target(t).live?.state).toBe('Drifted');
    }
    const warnings = rsp.results.filter((r) => r.reason === 'DriftDetected');
    expect(warnings.map((w) => w.message.split(':')[0]).sort()).toEqual([
      'aws (aws)',
      'vault (vault)',
    ]);
    expect(life.annotations('vault-vault-secret')['secrets.crossplatform.io/heal']).toBe(undefined);
    const visible = await life.visible();
    expect(visible).toMatch(/drift_found_total\{platform="vault"\} 1/);
    for (const s of [AWS_SENTINEL, VAULT_SENTINEL, storedValue(rsp, 1)]) {
      expect(visible).not.toContain(s);
      expect(visible).not.toContain(Buffer.from(s).toString('base64'));
    }
    const live = (await admin.read('secret/data/team-a/alert')) as { data: { data: Obj } };
    expect(live.data.data.password).toBe(VAULT_SENTINEL);
  }, 60_000);

  it('Enforce: drift makes the provider reconcile and write the value again', async () => {
    const life = new Life(composite('enforce'));
    await life.call();
    await life.call();
    const value = storedValue(life.last, 1);
    await admin.write('secret/data/team-a/enforce', { data: { password: VAULT_SENTINEL } });
    life.clock += 6 * 60_000;
    await life.call({ provide: false });
    expect(life.target('vault').drift).toMatchObject({
      state: 'Healing',
      reason: 'LiveValueDiffers',
    });
    const token = life.annotations('vault-vault-secret')['secrets.crossplatform.io/heal'];
    expect(token).toMatch(/^[0-9a-f]{12}$/);
    // The same drift keeps the same token, so the resource is not updated on every call.
    await life.call();
    expect(life.annotations('vault-vault-secret')['secrets.crossplatform.io/heal']).toBe(token);
    const healed = (await admin.read('secret/data/team-a/enforce')) as { data: { data: Obj } };
    expect(healed.data.data.password).toBe(value);
    life.clock += 31_000;
    await life.call();
    expect(life.target('vault').live?.state).toBe('InSync');
    expect(life.target('vault').drift.state).toBe('InSync');
    expect(life.target('aws').live?.state).toBe('InSync');
    expect(await life.visible()).not.toContain(VAULT_SENTINEL);
  }, 60_000);

  it('an origin target: a value rotated there is adopted and rolled out', async () => {
    const life = new Life(composite('origin', { origin: true }));
    await life.call();
    await life.call();
    const policies = desiredObjects(life.last)['vault-vault-secret']?.spec as Obj;
    expect(policies.managementPolicies).toEqual(['Observe', 'Create', 'Delete', 'LateInitialize']);
    const rotated = 'SENTINEL-origin-rotated-by-the-database-0042';
    await admin.write('secret/data/team-a/origin', { data: { password: rotated } });
    life.clock += 6 * 60_000;
    const rsp = await life.call();
    expect(storedValue(rsp, 2)).toBe(rotated);
    const started = rsp.results.find((r) => r.reason === 'RotationStarted');
    expect(started?.message).toBe('version 2 stored; origin target vault changed');
    // The origin's own value is the source: no drift, no heal, never written back.
    expect(rsp.results.map((r) => r.reason)).not.toContain('DriftDetected');
    expect(life.target('vault').drift.state).not.toMatch(/Drifted|Healing/);
    expect(life.target('vault').live).toMatchObject({
      state: 'Behind',
      version: 2,
      message: 'holds version 2, which is being rolled out',
    });
    expect(life.annotations('vault-vault-secret')['secrets.crossplatform.io/heal']).toBe(undefined);
    // The database rotates again while version 2 rolls out: it is adopted next, not lost.
    const again = 'SENTINEL-origin-rotated-again-0043';
    await admin.write('secret/data/team-a/origin', { data: { password: again } });
    for (let i = 0; i < 8; i++) {
      life.clock += 31_000;
      await life.call();
      const held = (await admin.read('secret/data/team-a/origin')) as { data: { data: Obj } };
      expect(held.data.data.password).toBe(again);
    }
    expect((life.xr.status as { version: number }).version).toBe(3);
    expect(storedValue(life.last, 3)).toBe(again);
    const current = await aws.send(new GetSecretValueCommand({ SecretId: 'team-a/origin' }));
    expect(current.SecretString).toBe(again);
    const visible = await life.visible();
    expect(visible).not.toContain(rotated);
    expect(visible).not.toContain(again);
  }, 60_000);

  it('an origin target refuses the rotate annotation and values that break the rules', async () => {
    const life = new Life(composite('origin-rules', { origin: true }));
    await life.call();
    await life.call();
    life.xr = {
      ...life.xr,
      metadata: { ...(life.xr.metadata as Obj), annotations: { [ANNOTATION_ROTATE]: 'now' } },
    };
    const refused = await life.call();
    expect(refused.results.find((r) => r.reason === 'RotationRefused')?.message).toBe(
      'the rotate annotation is ignored: the value comes from origin target vault; rotate it there',
    );
    expect((life.xr.status as { version: number }).version).toBe(1);
    await admin.write('secret/data/team-a/origin-rules', { data: { password: 'short' } });
    life.clock += 6 * 60_000;
    const rsp = await life.call();
    expect(rsp.results.find((r) => r.reason === 'OriginValueRefused')?.message).toBe(
      'the new value at origin target vault is not adopted: shorter than 16 bytes ' +
        '(guardrails.minLength); the value is shorter than 8 bytes',
    );
    expect(rsp.results.filter((r) => r.severity === Severity.SEVERITY_FATAL)).toEqual([]);
    expect((life.xr.status as { version: number }).version).toBe(1);
  }, 60_000);
});

describe('live verification when a platform cannot be read', () => {
  const hang = createTcp(() => undefined);
  let hangPort = 0;

  beforeAll(async () => {
    hangPort = (await listenLoopback(hang)).port;
  });

  afterAll(() => {
    hang.close();
  });

  it('a Vault that does not answer is unknown, within the budget, and never drift', async () => {
    const life = new Life(composite('silent'), input(`http://127.0.0.1:${String(hangPort)}`));
    await life.call();
    const started = Date.now();
    const rsp = await life.call();
    expect(Date.now() - started).toBeLessThan(4500);
    expect(life.target('vault').live).toMatchObject({
      state: 'Unknown',
      message: 'no answer within the time budget',
    });
    expect(life.target('vault').drift.state).not.toBe('Drifted');
    expect(life.target('aws').live?.state).toBe('InSync');
    expect(rsp.results.filter((r) => r.severity === Severity.SEVERITY_FATAL)).toEqual([]);
  }, 30_000);

  it('credentials the step does not have are named, per target, and nothing fails', async () => {
    const life = new Life(composite('no-creds'), input(), { vault: CREDENTIALS.vault });
    await life.call();
    expect(life.target('aws').live).toMatchObject({
      state: 'Unknown',
      message:
        'the pipeline step has no credentials named "aws" (input.verification.aws.credentials)',
    });
    expect(life.last.results.filter((r) => r.severity === Severity.SEVERITY_FATAL)).toEqual([]);
  });

  it('without input.verification nothing is read', async () => {
    const before = awsProxy.count() + baoProxy.count();
    const life = new Life(composite('off'), compositionInput());
    await life.call();
    await life.call();
    expect(awsProxy.count() + baoProxy.count()).toBe(before);
    expect(life.target('aws').live).toBeUndefined();
  });
});
