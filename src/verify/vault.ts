/**
 * HashiCorp Vault and OpenBao KV (v1 and v2), read-only through node-vault: the value under the
 * target's key, hashed at once, with the KV v2 metadata version as the version marker.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import NodeVault from 'node-vault';

import { isObj, type Obj } from '../observe.js';
import { liveBytes } from './bytes.js';
import { DEFAULT_CONCURRENCY, eachLimited } from './pool.js';
import { scrubError } from './scrub.js';
import type { Adapter, LiveObservation } from './types.js';

export interface VaultLiveTarget {
  id: string;
  mount: string;
  path: string;
  key: string;
  kvVersion: 1 | 2;
  encoding: 'Text' | 'Base64';
  /** Keep the value in the observation (the origin of an external rotation). */
  capture?: boolean;
}

interface Failure {
  response?: { statusCode?: number; body?: unknown };
  message?: string;
  code?: string;
}

function record(v: unknown): Obj {
  return isObj(v) ? v : {};
}

/** KV v2 reports its version as a number; anything else is no version. */
function versionOf(meta: Record<string, unknown>): { version?: string } {
  return typeof meta.version === 'number' ? { version: String(meta.version) } : {};
}

function failed(err: unknown, t: VaultLiveTarget): LiveObservation {
  const e = err as Failure;
  const status = e.response?.statusCode;
  if (status === 404) {
    const body = record(e.response?.body);
    const meta = record(record(body.data).metadata);
    // Vault says what is missing ({"errors": []}, or the metadata of a deleted version); any
    // other 404 comes from something else at that address and proves nothing.
    if (!Array.isArray(body.errors) && Object.keys(meta).length === 0) {
      return { state: 'unknown', error: 'answered 404 without a Vault error body' };
    }
    const deleted = typeof meta.deletion_time === 'string' && meta.deletion_time !== '';
    if (t.kvVersion === 2 && (deleted || meta.destroyed === true)) {
      return {
        state: 'deleted',
        ...versionOf(meta),
      };
    }
    return { state: 'missing' };
  }
  if (status === 429) return { state: 'unknown', error: 'throttled by Vault' };
  if (e.code === 'ECONNABORTED' || e.message === 'aborted') {
    return { state: 'unknown', error: 'no answer within the time budget' };
  }
  return { state: 'unknown', error: scrubError(e.message ?? `status ${String(status)}`) };
}

/** Where Kubernetes mounts the pod's service account token. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubernetesAuth {
  role: string;
  mount: string;
  /** The service account token file; the pod's own by default. */
  tokenPath?: string;
}

export class VaultAdapter implements Adapter<VaultLiveTarget> {
  readonly platform = 'vault' as const;
  /** When the token from Kubernetes auth must be renewed (ms since the epoch). */
  private renewAt = 0;

  constructor(
    private readonly client: NodeVault.client,
    private readonly auth?: KubernetesAuth,
  ) {}

  /** Logs in with the pod's service account when there is no token or it is about to expire. */
  private async login(): Promise<string | undefined> {
    if (this.auth === undefined || Date.now() < this.renewAt) return undefined;
    try {
      const jwt = (await readFile(this.auth.tokenPath ?? SERVICE_ACCOUNT_TOKEN, 'utf8')).trim();
      const r = record(
        await this.client.kubernetesLogin({
          role: this.auth.role,
          jwt,
          mount_point: this.auth.mount,
        }),
      );
      const auth = record(r.auth);
      if (typeof auth.client_token !== 'string') return 'Kubernetes auth returned no token';
      this.client.token = auth.client_token;
      const lease = typeof auth.lease_duration === 'number' ? auth.lease_duration : 300;
      // Renew at two thirds of the lease, so a token never expires in the middle of a read.
      this.renewAt = Date.now() + (lease * 1000 * 2) / 3;
      return undefined;
    } catch (err) {
      const e = err as Failure;
      return scrubError(`Kubernetes auth failed: ${e.message ?? 'no answer'}`);
    }
  }

  async observe(
    targets: readonly VaultLiveTarget[],
    signal: AbortSignal,
    opts: { concurrency?: number } = {},
  ): Promise<Map<string, LiveObservation>> {
    const out = new Map<string, LiveObservation>();
    const refused = await this.login();
    if (refused !== undefined) {
      for (const t of targets) out.set(t.id, { state: 'unknown', error: refused });
      return out;
    }
    await eachLimited(targets, opts.concurrency ?? DEFAULT_CONCURRENCY, async (t) => {
      out.set(t.id, await this.one(t, signal));
    });
    return out;
  }

  private async one(t: VaultLiveTarget, signal: AbortSignal): Promise<LiveObservation> {
    if (signal.aborted) return { state: 'unknown', error: 'no answer within the time budget' };
    const path = t.kvVersion === 2 ? `${t.mount}/data/${t.path}` : `${t.mount}/${t.path}`;
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        reject(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const body = record(
        await Promise.race([this.client.read(path, { timeout: 10_000 }), aborted]),
      );
      const data = body.data;
      const values = t.kvVersion === 2 && isObj(data) ? data.data : data;
      if (!isObj(data) || !isObj(values)) {
        return { state: 'unknown', error: 'the answer is not a Vault KV secret' };
      }
      const meta = record(data.metadata);
      const value = Object.hasOwn(values, t.key) ? values[t.key] : undefined;
      if (value === undefined) return { state: 'missing' };
      if (typeof value !== 'string') {
        return { state: 'unknown', error: `key ${t.key} does not hold a string` };
      }
      const { bytes, exact } = liveBytes(value, t.encoding);
      return {
        state: 'present',
        ...versionOf(meta),
        ...(typeof meta.created_time === 'string' ? { updatedAt: meta.created_time } : {}),
        valueSha256: createHash('sha256').update(bytes).digest('hex'),
        ...(exact && t.capture === true ? { captured: bytes } : {}),
      };
    } catch (err) {
      return failed(err, t);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/** A client for a Vault address and token; the token may come later from Kubernetes auth. */
export function vaultClient(
  endpoint: string,
  token: string,
  namespace?: unknown,
): NodeVault.client {
  return NodeVault({
    apiVersion: 'v1',
    endpoint,
    token,
    ...(typeof namespace === 'string' && namespace !== '' ? { namespace } : {}),
  });
}
