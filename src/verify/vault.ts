/**
 * HashiCorp Vault and OpenBao KV (v1 and v2), read-only through node-vault: the value under the
 * target's key, hashed at once, with the KV v2 metadata version as the version marker.
 */
import { createHash } from 'node:crypto';

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

function hashOf(value: unknown, encoding: VaultLiveTarget['encoding']): string | undefined {
  if (typeof value !== 'string') return undefined;
  const bytes = encoding === 'Base64' ? Buffer.from(value, 'base64') : Buffer.from(value, 'utf8');
  return createHash('sha256').update(bytes).digest('hex');
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

export class VaultAdapter implements Adapter<VaultLiveTarget> {
  readonly platform = 'vault' as const;

  constructor(private readonly client: NodeVault.client) {}

  async observe(
    targets: readonly VaultLiveTarget[],
    signal: AbortSignal,
  ): Promise<Map<string, LiveObservation>> {
    const out = new Map<string, LiveObservation>();
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
      const hash = hashOf(values[t.key], t.encoding);
      return {
        state: 'present',
        ...versionOf(meta),
        ...(typeof meta.created_time === 'string' ? { updatedAt: meta.created_time } : {}),
        ...(hash === undefined ? {} : { valueSha256: hash }),
      };
    } catch (err) {
      return failed(err, t);
    }
  }
}

/** A client for a Vault address and token (the pod's own token, or one from credentials). */
export function vaultClient(endpoint: string, token: string): NodeVault.client {
  return NodeVault({ apiVersion: 'v1', endpoint, token });
}
