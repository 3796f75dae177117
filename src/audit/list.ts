/**
 * The CrossPlatformSecrets an audit looks at: every one the cluster holds, or those of one
 * namespace, read page by page so that a large estate never arrives as one huge response.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

/** The composite resource of apis/definition.yaml. */
export const XR = {
  group: 'secrets.crossplatform.io',
  version: 'v1alpha1',
  plural: 'crossplatformsecrets',
} as const;

/** The page size kubectl uses: large enough for few round trips, small for the API server. */
const PAGE_SIZE = 500;

export interface ListOptions {
  /** Only this namespace; every namespace when absent. */
  namespace?: string;
  pageSize?: number;
}

interface Page {
  items?: unknown[];
  metadata?: { continue?: string };
}

/** The raw objects, in the API server's order (namespace, then name). */
export async function listCrossPlatformSecrets(
  kc: KubeConfig,
  opts: ListOptions = {},
): Promise<object[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const limit = opts.pageSize ?? PAGE_SIZE;
  const out: object[] = [];
  let token: string | undefined;
  do {
    const paging = { ...XR, limit, ...(token === undefined ? {} : { _continue: token }) };
    const page = (
      opts.namespace === undefined || opts.namespace === ''
        ? await api.listClusterCustomObject(paging)
        : await api.listNamespacedCustomObject({ ...paging, namespace: opts.namespace })
    ) as Page;
    for (const item of page.items ?? []) {
      if (typeof item === 'object' && item !== null) out.push(item);
    }
    // An empty token ends the list; the server sends one only while items remain.
    token = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
  } while (token !== undefined);
  return out;
}
