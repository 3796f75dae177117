/**
 * HashiCorp Vault and OpenBao KV (v1 and v2), read-only through node-vault: the value under the
 * target's key, hashed at once, with the KV v2 metadata version as the version marker.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import NodeVault from 'node-vault';

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

/** At most this many reads in flight against one Vault. */
const CONCURRENCY = 4;

interface Failure {
  response?: { statusCode?: number; body?: unknown };
  message?: string;
  code?: string;
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}

/** KV v2 reports its version as a number; anything else is no version. */
function versionOf(meta: Record<string, unknown>): { version?: string } {
  return typeof meta.version === 'number' ? { version: String(meta.version) } : {};
}

function bytesOf(value: unknown, encoding: VaultLiveTarget['encoding']): Buffer | undefined {
  if (typeof value !== 'string') return undefined;
  return encoding === 'Base64' ? Buffer.from(value, 'base64') : Buffer.from(value, 'utf8');
}

function failed(err: unknown, t: VaultLiveTarget): LiveObservation {
  const e = err as Failure;
  const status = e.response?.statusCode;
  if (status === 404) {
    const meta = record(record(record(e.response?.body).data).metadata);
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
  ): Promise<Map<string, LiveObservation>> {
    const out = new Map<string, LiveObservation>();
    const refused = await this.login();
    if (refused !== undefined) {
      for (const t of targets) out.set(t.id, { state: 'unknown', error: refused });
      return out;
    }
    const queue = [...targets];
    const worker = async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        out.set(t.id, await this.one(t, signal));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, targets.length) }, worker));
    return out;
  }

  private async one(t: VaultLiveTarget, signal: AbortSignal): Promise<LiveObservation> {
    if (signal.aborted) return { state: 'unknown', error: 'no answer within the time budget' };
    const path = t.kvVersion === 2 ? `${t.mount}/data/${t.path}` : `${t.mount}/${t.path}`;
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener(
        'abort',
        () => {
          reject(new Error('aborted'));
        },
        { once: true },
      );
    });
    try {
      const body = record(
        await Promise.race([this.client.read(path, { timeout: 10_000 }), aborted]),
      );
      const data = record(body.data);
      const values = t.kvVersion === 2 ? record(data.data) : data;
      const meta = record(data.metadata);
      if (!(t.key in values)) return { state: 'missing' };
      const bytes = bytesOf(values[t.key], t.encoding);
      return {
        state: 'present',
        ...versionOf(meta),
        ...(typeof meta.created_time === 'string' ? { updatedAt: meta.created_time } : {}),
        ...(bytes === undefined
          ? {}
          : { valueSha256: createHash('sha256').update(bytes).digest('hex') }),
        ...(bytes !== undefined && t.capture === true ? { captured: bytes } : {}),
      };
    } catch (err) {
      return failed(err, t);
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
