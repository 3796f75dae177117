/**
 * The audit's listing against a real kube-apiserver on loopback, with a CustomResourceDefinition
 * made from the XRD in apis/definition.yaml (the CRD that Crossplane would derive from it):
 * every namespace, one namespace, and pages small enough that only continue tokens find all.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';

import { listCrossPlatformSecrets, XR } from '../src/audit/list.js';
import type { Obj } from '../src/observe.js';
import { kubernetesClient } from '../src/verify/kubernetes.js';
import { example } from './helpers.js';
import { installCompositeCrd, startKubeApiServer, type KubeApiServer } from './kube-apiserver.js';

let kube: KubeApiServer;
let kc: KubeConfig;

function xr(namespace: string, name: string): Obj {
  const base = example('kubernetes');
  return { ...base, metadata: { name, namespace } };
}

const PLACED = [
  ['team-a', 'api-key'],
  ['team-a', 'db-password'],
  ['team-b', 'session-key'],
] as const;

beforeAll(async () => {
  kube = await startKubeApiServer();
  kc = kubernetesClient(kube.kubeconfigPath);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await installCompositeCrd(kc);
  for (const ns of ['team-a', 'team-b', 'team-empty']) {
    await objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  for (const [namespace, name] of PLACED) {
    await custom.createNamespacedCustomObject({ ...XR, namespace, body: xr(namespace, name) });
  }
}, 180_000);

afterAll(async () => {
  await kube.stop();
});

const names = (items: object[]) =>
  items.map((o) => {
    const m = (o as { metadata?: { namespace?: string; name?: string } }).metadata;
    return `${m?.namespace ?? '?'}/${m?.name ?? '?'}`;
  });

describe('listCrossPlatformSecrets against kube-apiserver', () => {
  it('lists every namespace, as raw objects', async () => {
    const items = await listCrossPlatformSecrets(kc, {});
    expect(names(items)).toEqual(PLACED.map(([ns, n]) => `${ns}/${n}`));
    const first = items[0] as Obj;
    expect(first).toMatchObject({
      apiVersion: 'secrets.crossplatform.io/v1alpha1',
      kind: 'CrossPlatformSecret',
      spec: example('kubernetes').spec as object,
    });
  });

  it.each([1, 2])('follows continue tokens with pages of %i', async (pageSize) => {
    // The server does cut the list short, so only the tokens can bring the rest.
    const custom = kc.makeApiClient(CustomObjectsApi);
    const page = (await custom.listClusterCustomObject({ ...XR, limit: pageSize })) as {
      items: unknown[];
      metadata: { continue?: string };
    };
    expect(page.items).toHaveLength(pageSize);
    expect(page.metadata.continue).toEqual(expect.any(String));
    const items = await listCrossPlatformSecrets(kc, { pageSize });
    expect(names(items)).toEqual(PLACED.map(([ns, n]) => `${ns}/${n}`));
  });

  it('the CRD carries the XRD schema: a composite without targets is refused', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const bad = xr('team-a', 'no-targets');
    bad.spec = { value: { generate: {} } };
    await expect(
      custom.createNamespacedCustomObject({ ...XR, namespace: 'team-a', body: bad }),
    ).rejects.toMatchObject({ code: 422 });
  });

  it('lists one namespace, also page by page', async () => {
    expect(names(await listCrossPlatformSecrets(kc, { namespace: 'team-a', pageSize: 1 }))).toEqual(
      ['team-a/api-key', 'team-a/db-password'],
    );
    expect(await listCrossPlatformSecrets(kc, { namespace: 'team-empty' })).toEqual([]);
  });

  it('keeps a status that the XRD schema does not spell out', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.patchNamespacedCustomObjectStatus({
      ...XR,
      namespace: 'team-b',
      name: 'session-key',
      body: [{ op: 'add', path: '/status', value: { crossplane: { note: 'kept' }, version: 3 } }],
    });
    const [item] = await listCrossPlatformSecrets(kc, { namespace: 'team-b' });
    expect(item).toMatchObject({ status: { crossplane: { note: 'kept' }, version: 3 } });
  });
});
