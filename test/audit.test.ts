/**
 * The audit command, run as users run it (the built bin, in a child process), against moto's
 * Secrets Manager, OpenBao and a real kube-apiserver on loopback: composites listed from the
 * cluster or read from YAML files and standard input, one target changed out of band, table and
 * JSON reports, exit statuses.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments, stringify } from 'yaml';

import { CustomObjectsApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';

import { XR } from '../src/audit/list.js';
import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { kubernetesClient } from '../src/verify/kubernetes.js';
import { vaultClient } from '../src/verify/vault.js';
import { desiredObjects, request, ROOT, storeValue, testDeps } from './helpers.js';
import { installCompositeCrd, startKubeApiServer, type KubeApiServer } from './kube-apiserver.js';
import { motoClient, startMoto, type Moto } from './moto.js';
import { startOpenBao, type OpenBao } from './openbao.js';

const BIN = `${ROOT}dist/audit/main.js`;
const NS = 'team-a';
const DRIFTED = 'SENTINEL-audit-edited-by-hand-4f1b';

let moto: Moto;
let bao: OpenBao;
let kube: KubeApiServer;
let kc: KubeConfig;
let dir: string;
let files: {
  input: string;
  aws: string;
  vault: string;
  kube: string;
  estate: string;
  other: string;
};
const values: string[] = [];

function composite(name: string): Obj {
  return {
    apiVersion: 'secrets.crossplatform.io/v1alpha1',
    kind: 'CrossPlatformSecret',
    metadata: { name, namespace: 'team-a' },
    spec: {
      value: { generate: { length: 32 } },
      targets: [
        { name: 'aws', aws: { region: 'us-east-1', name: `audit/${name}` } },
        { name: 'vault', vault: { mount: 'secret', path: `audit/${name}`, key: 'password' } },
        { name: 'pods', kubernetes: { name: `${name}-db`, key: 'password' } },
      ],
    },
  };
}

/** Composes a secret, and writes its value where the providers would. */
async function provision(
  name: string,
  aws: SecretsManagerClient,
  vault: ReturnType<typeof vaultClient>,
  seed: number,
): Promise<Obj[]> {
  const xr = composite(name);
  const rsp = runFunction(request(xr, { input: null }), testDeps(seed));
  const value = storeValue(rsp).toString('utf8');
  values.push(value);
  await aws.send(new CreateSecretCommand({ Name: `audit/${name}`, SecretString: value }));
  await vault.write(`secret/data/audit/${name}`, { data: { password: value } });
  await objects(kc).create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${name}-db`, namespace: NS },
    data: { password: Buffer.from(value).toString('base64') },
  });
  const store = desiredObjects(rsp).store;
  if (store === undefined) throw new Error('no store composed');
  const status = rsp.desired?.composite?.resource?.status as Obj;
  return [
    { ...xr, status },
    { ...store, metadata: { ...(store.metadata as Obj) } },
  ];
}

beforeAll(async () => {
  [moto, bao, kube] = await Promise.all([startMoto(), startOpenBao(), startKubeApiServer()]);
  kc = kubernetesClient(kube.kubeconfigPath);
  await objects(kc).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  const aws = motoClient(moto);
  const vault = vaultClient(bao.endpoint, bao.token);
  const estate = [
    ...(await provision('billing', aws, vault, 11)),
    ...(await provision('orders', aws, vault, 12)),
    ...(await provision('search', aws, vault, 13)),
  ];
  // One target edited by hand: orders' AWS secret gets a new AWSCURRENT value.
  await aws.send(new PutSecretValueCommand({ SecretId: 'audit/orders', SecretString: DRIFTED }));

  dir = mkdtempSync(join(tmpdir(), 'audit-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  files = {
    input: write(
      'input.yaml',
      stringify({
        apiVersion: 'secrets.fn.crossplatform.io/v1beta1',
        kind: 'Input',
        verification: {
          aws: { credentials: 'aws', endpoint: moto.endpoint },
          vault: { address: bao.endpoint, credentials: 'vault' },
          kubernetes: { credentials: 'kube' },
        },
      }),
    ),
    aws: write(
      'aws.ini',
      '[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n',
    ),
    vault: write(
      'vault.yaml',
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'vault-creds' },
        stringData: { credentials: '{"token":"root"}' },
      }),
    ),
    kube: kube.kubeconfigPath,
    estate: write('estate.yaml', estate.map((d) => stringify(d)).join('---\n')),
    other: write('clean.yaml', [estate[0], estate[1]].map((d) => stringify(d)).join('---\n')),
  };
  await installCompositeCrd(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const d of estate) {
    const { status, ...body } = d;
    if (body.kind === 'Secret') {
      await objects(kc).create(body as never);
      continue;
    }
    const meta = body.metadata as { name: string };
    await custom.createNamespacedCustomObject({ ...XR, namespace: NS, body });
    await custom.patchNamespacedCustomObjectStatus({
      ...XR,
      namespace: NS,
      name: meta.name,
      body: [{ op: 'add', path: '/status', value: status }],
    });
  }
}, 180_000);

afterAll(async () => {
  moto.stop();
  bao.stop();
  await kube.stop();
});

function objects(config: KubeConfig): KubernetesObjectApi {
  return KubernetesObjectApi.makeApiClient(config);
}

function audit(args: string[], stdin?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      `--input=${files.input}`,
      `--credentials=aws=${files.aws}`,
      `--credentials=vault=${files.vault}`,
      `--credentials=kube=${files.kube}`,
      ...args,
    ],
    { encoding: 'utf8', input: stdin, timeout: 60_000 },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('cross-platform-secret-audit', () => {
  it('prints a table, names the drifted target and exits 1', () => {
    const r = audit([files.estate]);
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE\s+NAME\s+TARGET\s+PLATFORM\s+STATE\s+VERSION/);
    const row = (name: string, target: string) =>
      lines.find((l) => new RegExp(`^team-a\\s+${name}\\s+${target}\\s`).test(l)) ?? '';
    expect(row('orders', 'aws')).toMatch(/\sDrifted\s+-\s+us-east-1:audit\/orders\s/);
    for (const n of ['billing', 'orders', 'search']) {
      for (const t of ['aws', 'vault', 'pods']) {
        if (n !== 'orders' || t !== 'aws') expect(row(n, t)).toMatch(/\sInSync\s+1\s/);
      }
    }
    expect(row('search', 'pods')).toMatch(/\steam-a\/search-db#password\s/);
    expect(lines.at(-1)).toBe(
      '9 targets: 8 in sync, 0 behind, 1 drifted, 0 missing, 0 deleted, 0 unknown',
    );
    for (const secret of [DRIFTED, ...values]) {
      expect(r.out + r.err).not.toContain(secret);
      expect(r.out + r.err).not.toContain(Buffer.from(secret).toString('base64'));
    }
  });

  it('exits 0 when nothing drifted, reading the composites from standard input', () => {
    const r = audit(['-', '--output=json'], stringifyFile(files.other));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { rows: Obj[]; summary: Record<string, number> };
    expect(report.summary).toMatchObject({ targets: 3, InSync: 3, Drifted: 0 });
    expect(report.rows.map((x) => [x.name, x.target, x.state, x.version, x.against])).toEqual([
      ['billing', 'aws', 'InSync', 1, 'store'],
      ['billing', 'vault', 'InSync', 1, 'store'],
      ['billing', 'pods', 'InSync', 1, 'store'],
    ]);
  });

  it('without value stores compares each target with the others', () => {
    const r = audit([files.estate, '--no-store', '-o', 'json']);
    const report = JSON.parse(r.out) as { rows: Obj[] };
    const orders = report.rows.filter((x) => x.name === 'orders');
    // Two of three agree: the third is the one that drifted.
    expect(orders.map((x) => [x.target, x.state, x.against])).toEqual([
      ['aws', 'Drifted', 'targets'],
      ['vault', 'InSync', 'targets'],
      ['pods', 'InSync', 'targets'],
    ]);
    expect(r.code).toBe(1);
  });

  it('a missing secret is drift; an unreachable platform is unknown, not drift', () => {
    const xr = composite('never-written');
    const rsp = runFunction(request(xr, { input: null }), testDeps(21));
    const store = desiredObjects(rsp).store as Obj;
    const path = join(dir, 'missing.yaml');
    writeFileSync(path, [xr, store].map((d) => stringify(d)).join('---\n'));
    const r = audit([path, '-o', 'json']);
    const report = JSON.parse(r.out) as { rows: Obj[] };
    expect(report.rows.map((x) => x.state)).toEqual(['Missing', 'Missing', 'Missing']);
    expect(r.code).toBe(1);

    const input = join(dir, 'unreachable.yaml');
    writeFileSync(
      input,
      stringify({
        apiVersion: 'secrets.fn.crossplatform.io/v1beta1',
        kind: 'Input',
        verification: { budget: '2s', vault: { address: 'http://127.0.0.1:9', credentials: 'v' } },
      }),
    );
    const u = spawnSync(
      process.execPath,
      [BIN, `--input=${input}`, `--credentials=v=${files.vault}`, files.other, '-o', 'json'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    const rows = (JSON.parse(u.stdout) as { rows: Obj[] }).rows;
    expect(rows.map((x) => [x.target, x.state])).toEqual([
      ['aws', 'Unknown'],
      ['vault', 'Unknown'],
      ['pods', 'Unknown'],
    ]);
    expect(rows[0]?.message).toBe('input.verification.aws is not set');
    expect(u.status).toBe(0);
  });

  it('lists the composites and reads their value stores from the cluster', () => {
    const r = audit([`--kubeconfig=${kube.kubeconfigPath}`]);
    // Kept for README's "Audit" section, which shows this run.
    mkdirSync(`${ROOT}_output/audit-demo`, { recursive: true });
    writeFileSync(
      `${ROOT}_output/audit-demo/report.txt`,
      `${r.out}exit status ${String(r.code)}\n`,
    );
    expect(r.code).toBe(1);
    expect(r.out).toBe(audit([files.estate]).out);
    const one = audit([`--kubeconfig=${kube.kubeconfigPath}`, '-n', 'nowhere', '-o', 'json']);
    expect(JSON.parse(one.out)).toMatchObject({ rows: [], summary: { targets: 0 } });
    expect(one.code).toBe(0);
  });

  it('reads kubectl List output, and reports a target a rotation is moving as Behind', () => {
    const docs = loadAll(files.estate);
    const billing = docs.find((d) => d.kind === 'CrossPlatformSecret') as Obj;
    const store = docs.find((d) => d.kind === 'Secret') as Obj;
    // Version 2 is stored and the AWS target is on its way to it; it still holds version 1.
    const status = structuredClone(billing.status) as { targets: Obj[] };
    const aws = status.targets.find((t) => t.name === 'aws') as Obj;
    aws.desiredVersion = 2;
    aws.heldVersion = 1;
    const data = {
      ...(store.data as Obj),
      v2: Buffer.from('the-next-value-32-bytes-long-xx').toString('base64'),
    };
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { ...billing, status },
        { ...store, data },
      ],
    };
    const r = audit(['-', '-o', 'json'], stringify(list));
    const rows = (JSON.parse(r.out) as { rows: Obj[] }).rows;
    expect(rows.map((x) => [x.target, x.state, x.version])).toEqual([
      ['aws', 'Behind', 1],
      ['vault', 'InSync', 1],
      ['pods', 'InSync', 1],
    ]);
    expect(r.code).toBe(0);
    // Once the status says the target holds version 2, the old value there is drift.
    aws.heldVersion = 2;
    const reverted = audit(['-', '-o', 'json'], stringify(list));
    expect((JSON.parse(reverted.out) as { rows: Obj[] }).rows[0]).toMatchObject({
      state: 'Drifted',
      version: 1,
    });
    expect(reverted.code).toBe(1);
  });

  it('unknown targets fail only with --fail-on-unknown, and name the missing flag', () => {
    const r = spawnSync(
      process.execPath,
      [BIN, `--input=${files.input}`, `--credentials=aws=${files.aws}`, files.other, '-o', 'json'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    const rows = (JSON.parse(r.stdout) as { rows: Obj[] }).rows;
    expect(rows.find((x) => x.target === 'vault')?.message).toBe(
      'no credentials named "vault": pass --credentials=vault=FILE',
    );
    expect(r.status).toBe(0);
    const strict = spawnSync(
      process.execPath,
      [
        BIN,
        `--input=${files.input}`,
        `--credentials=aws=${files.aws}`,
        files.other,
        '--fail-on-unknown',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(strict.status).toBe(1);
  });

  it('waits for the rate limits rather than leaving targets unread', async () => {
    const aws = motoClient(moto);
    const vault = vaultClient(bao.endpoint, bao.token);
    const docs: Obj[] = [];
    for (let i = 0; i < 24; i++) docs.push(...(await provision(`bulk-${i}`, aws, vault, 100 + i)));
    const estate = join(dir, 'bulk.yaml');
    writeFileSync(estate, docs.map((d) => stringify(d)).join('---\n'));
    const input = join(dir, 'slow-input.yaml');
    writeFileSync(
      input,
      stringify({
        apiVersion: 'secrets.fn.crossplatform.io/v1beta1',
        kind: 'Input',
        verification: {
          aws: { credentials: 'aws', endpoint: moto.endpoint, rate: 20, burst: 4 },
          vault: { address: bao.endpoint, credentials: 'vault', rate: 20, burst: 4 },
          kubernetes: { credentials: 'kube', rate: 20, burst: 4 },
        },
      }),
    );
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        `--input=${input}`,
        `--credentials=aws=${files.aws}`,
        `--credentials=vault=${files.vault}`,
        `--credentials=kube=${files.kube}`,
        estate,
        '-o',
        'json',
        '--progress',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const report = JSON.parse(r.stdout) as { summary: Record<string, number> };
    // 72 reads at 20 a second per platform: a few seconds of waiting, and nothing left unread.
    expect(report.summary).toMatchObject({ targets: 72, InSync: 72, Unknown: 0 });
    expect(r.stderr).toContain('audited 24 of 24 secrets');
    expect(r.status).toBe(0);
  }, 90_000);

  it('refuses bad usage with exit status 2 and a message naming the flag', () => {
    const r = spawnSync(process.execPath, [BIN, files.estate], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--input: required');
    const o = audit([files.estate, '--output=yaml']);
    expect(o.code).toBe(2);
    expect(o.err).toContain('--output: must be table or json, not "yaml"');
    const c = spawnSync(process.execPath, [BIN, `--input=${files.estate}`], { encoding: 'utf8' });
    expect(c.status).toBe(2);
    expect(c.stderr).toContain('holds no secrets.fn.crossplatform.io Input');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'kind: Secret\ndata:\n  v1: SENTINEL-IN-BROKEN-YAML\n    bad: [\n');
    const y = audit([broken]);
    expect(y.code).toBe(2);
    expect(y.err).toMatch(/broken\.yaml: not valid YAML at line \d+, column \d+/);
    expect(y.err).not.toContain('SENTINEL-IN-BROKEN-YAML');
    const none = audit([files.input]);
    expect(none.code).toBe(2);
    expect(none.err).toContain(`no CrossPlatformSecret in ${files.input}`);
    const nowhere = spawnSync(process.execPath, [BIN, `--input=${files.input}`], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: dir },
    });
    expect(nowhere.status).toBe(2);
    expect(nowhere.stderr).toContain('no kubeconfig: pass --kubeconfig, set KUBECONFIG');
  });
});

function loadAll(path: string): Obj[] {
  return parseAllDocuments(stringifyFile(path)).map((d) => d.toJS() as Obj);
}

function stringifyFile(path: string): string {
  return spawnSync('cat', [path], { encoding: 'utf8' }).stdout;
}
