/**
 * A real Kubernetes API server (and the etcd it stores into) on loopback for the tests, built
 * from the Go module proxy by scripts/install-kube-apiserver.sh. Authentication is a static
 * bearer token in the system:masters group; no controller-manager runs, so namespaces get no
 * default service account and nothing is garbage-collected (as with controller-runtime's
 * envtest). A missing install fails the tests loudly instead of skipping them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { stringify } from 'yaml';

import { ApiextensionsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

import { XR } from '../src/audit/list.js';
import { loadDoc, ROOT } from './helpers.js';
import { freePort, waitForHttp } from './loopback.js';

export interface KubeApiServer {
  kubeconfigPath: string;
  server: string;
  token: string;
  /** Stops both processes and removes their data. */
  stop(): Promise<void>;
}

const BIN = process.env.KUBE_BIN_DIR ?? `${ROOT}_output/bin`;
/** A cold API server needs most of this on two busy cores to run its post-start hooks. */
const READY_WITHIN_MS = 120_000;

function binary(name: string): string {
  const bin = join(BIN, name);
  if (!existsSync(bin) || spawnSync(bin, ['--version']).status !== 0) {
    throw new Error(
      `${name} is not installed (${bin}): run scripts/install-kube-apiserver.sh, which builds ` +
        'etcd and kube-apiserver from the Go module proxy (about ten minutes the first time)',
    );
  }
  return bin;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else
      child.once('exit', () => {
        resolve();
      });
  });
}

/** Starts a program whose log lines (stderr) go to a file, for a failure's message. */
function run(bin: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, 'w');
  try {
    return spawn(bin, args, { stdio: ['ignore', 'ignore', fd] });
  } finally {
    closeSync(fd);
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** GET over TLS with the token; resolves to the status code, 0 when nothing answered. */
function probe(url: string, token: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        headers: { authorization: `Bearer ${token}` },
        ca,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      resolve(0);
    });
    req.end();
  });
}

/** Starts both processes into `dir`, pushing each onto `children` so a failure can stop it. */
async function boot(dir: string, children: ChildProcess[]): Promise<Omit<KubeApiServer, 'stop'>> {
  const etcdBin = binary('etcd');
  const apiBin = binary('kube-apiserver');
  const [client, peer, secure] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  children.push(
    run(
      etcdBin,
      [
        `--data-dir=${dir}/etcd`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        // Throwaway data: durability only slows every write down.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      `${dir}/etcd.log`,
    ),
  );
  await waitForHttp(`${etcdUrl}/health`, 'etcd', () => undefined);

  const token = 'kube-test-token';
  writeFileSync(`${dir}/tokens.csv`, `${token},admin,admin-uid,"system:masters"\n`);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(`${dir}/sa.key`, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(`${dir}/sa.pub`, publicKey.export({ type: 'spki', format: 'pem' }));
  const server = `https://127.0.0.1:${secure}`;
  const api = run(
    apiBin,
    [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${dir}/pki`,
      `--secure-port=${secure}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // Required, but nothing is ever reached through it: no kube-proxy runs.
      '--service-cluster-ip-range=10.0.0.0/24',
      `--token-auth-file=${dir}/tokens.csv`,
      '--authorization-mode=RBAC',
      // No controller-manager creates the default service accounts that this plugin requires.
      '--disable-admission-plugins=ServiceAccount',
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${dir}/sa.pub`,
      `--service-account-signing-key-file=${dir}/sa.key`,
      // Fewer background loops: a quicker start on two cores and no lease churn in etcd.
      '--endpoint-reconciler-type=none',
      '--enable-priority-and-fairness=false',
      '--v=0',
    ],
    `${dir}/kube-apiserver.log`,
  );
  children.push(api);

  // The server signs its own serving certificate; the file holds it and the CA that signed it.
  const certFile = `${dir}/pki/apiserver.crt`;
  const deadline = Date.now() + READY_WITHIN_MS;
  for (;;) {
    const ca = existsSync(certFile) ? readFileSync(certFile, 'utf8') : undefined;
    if (ca !== undefined && (await probe(`${server}/readyz`, token, ca)) === 200) break;
    if (api.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `kube-apiserver did not become ready on ${server}:\n${tail(`${dir}/kube-apiserver.log`)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  const kubeconfigPath = `${dir}/kubeconfig`;
  writeFileSync(
    kubeconfigPath,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'certificate-authority': certFile } }],
      users: [{ name: 'admin', user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
      'current-context': 'test',
    }),
  );
  return { kubeconfigPath, server, token };
}

/** etcd and kube-apiserver on free loopback ports, ready for requests (about 7 s here). */
export async function startKubeApiServer(): Promise<KubeApiServer> {
  const dir = mkdtempSync(join(tmpdir(), 'kube-apiserver-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    // The API server first, so it never sees its storage vanish.
    for (const c of [...children].reverse()) {
      c.kill();
      await exited(c);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    return { ...(await boot(dir, children)), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface XrdVersion {
  name: string;
  served: boolean;
  additionalPrinterColumns?: unknown[];
  schema: { openAPIV3Schema: { properties?: Record<string, Record<string, unknown>> } };
}

interface Xrd {
  spec: {
    group: string;
    scope?: string;
    names: { kind: string; plural: string; categories?: string[] };
    versions: XrdVersion[];
  };
}

/** The CRD for the XRD's composite: its schema as written, and any status accepted. */
function crdFromXrd(xrd: Xrd) {
  const { group, names, versions } = xrd.spec;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: {
        kind: names.kind,
        plural: names.plural,
        singular: names.kind.toLowerCase(),
        listKind: `${names.kind}List`,
        ...(names.categories === undefined ? {} : { categories: names.categories }),
      },
      versions: versions.map((v, i) => {
        const schema = structuredClone(v.schema.openAPIV3Schema);
        const properties = schema.properties ?? {};
        // Crossplane adds its own status fields to the CRD; the audit must read them too.
        properties.status = {
          type: 'object',
          ...properties.status,
          'x-kubernetes-preserve-unknown-fields': true,
        };
        schema.properties = properties;
        return {
          name: v.name,
          served: v.served,
          storage: i === 0,
          schema: { openAPIV3Schema: schema },
          subresources: { status: {} },
          ...(v.additionalPrinterColumns === undefined
            ? {}
            : { additionalPrinterColumns: v.additionalPrinterColumns }),
        };
      }),
    },
  };
}

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what} within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Installs the CRD Crossplane would derive from apis/definition.yaml and waits until the
 * composite's path is served.
 */
export async function installCompositeCrd(kc: KubeConfig): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const crd = crdFromXrd(loadDoc(`${ROOT}apis/definition.yaml`) as unknown as Xrd);
  // Sent as a plain body: client-node's typed path re-serializes the schema through its models,
  // which drop keys written the way YAML spells them (x-kubernetes-preserve-unknown-fields).
  await custom.createClusterCustomObject({
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    body: crd,
  });
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await until('the CRD was not established', async () => {
    const c = await ext.readCustomResourceDefinition({ name: crd.metadata.name });
    return (c.status?.conditions ?? []).some(
      (x) => x.type === 'Established' && x.status === 'True',
    );
  });
  // Established can come a moment before the new path is served.
  await until('the composite path was not served', async () => {
    try {
      await custom.listClusterCustomObject({ ...XR, limit: 1 });
      return true;
    } catch {
      return false;
    }
  });
}
