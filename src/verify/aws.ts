/**
 * AWS Secrets Manager, read-only: DescribeSecret for existence, deletion and KMS key, and the
 * AWSCURRENT value (BatchGetSecretValue when several secrets of a region are due at once),
 * hashed at once.
 */
import { createHash } from 'node:crypto';

import {
  BatchGetSecretValueCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  type DescribeSecretCommandOutput,
} from '@aws-sdk/client-secrets-manager';

import { DEFAULT_CONCURRENCY, eachLimited } from './pool.js';
import { scrubError } from './scrub.js';
import type { Adapter, LiveObservation } from './types.js';

export interface AwsLiveTarget {
  /** The caller's key for this target. */
  id: string;
  region: string;
  /** Name or ARN of the secret. */
  name: string;
  /** Keep the value in the observation (the origin of an external rotation). */
  capture?: boolean;
}

export type ClientFactory = (region: string) => SecretsManagerClient;

const BATCH = 20;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function failure(err: unknown): LiveObservation {
  const e = err as { name?: string; message?: string };
  const name = e.name ?? 'Error';
  if (name === 'AbortError' || name === 'TimeoutError') {
    return { state: 'unknown', error: 'no answer within the time budget' };
  }
  if (/throttl|toomanyrequests|rate exceeded/i.test(`${name} ${e.message ?? ''}`)) {
    return { state: 'unknown', error: 'throttled by AWS' };
  }
  return { state: 'unknown', error: scrubError(`${name}: ${e.message ?? ''}`) };
}

function missing(err: unknown): boolean {
  return (err as { name?: string }).name === 'ResourceNotFoundException';
}

function described(d: DescribeSecretCommandOutput): LiveObservation {
  const base: LiveObservation = {
    state: d.DeletedDate === undefined ? 'present' : 'deleted',
    ...(d.LastChangedDate === undefined ? {} : { updatedAt: d.LastChangedDate.toISOString() }),
    ...(d.KmsKeyId === undefined ? {} : { kmsKeyId: d.KmsKeyId }),
  };
  const current = Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) =>
    s.includes('AWSCURRENT'),
  );
  if (current !== undefined) base.version = current[0];
  return base;
}

function valueBytes(v: { SecretString?: string; SecretBinary?: Uint8Array }): Buffer | undefined {
  if (v.SecretString !== undefined) return Buffer.from(v.SecretString, 'utf8');
  if (v.SecretBinary !== undefined) return Buffer.from(v.SecretBinary);
  return undefined;
}

export class AwsAdapter implements Adapter<AwsLiveTarget> {
  readonly platform = 'aws' as const;

  constructor(private readonly client: ClientFactory) {}

  async observe(
    targets: readonly AwsLiveTarget[],
    signal: AbortSignal,
    opts: { concurrency?: number } = {},
  ): Promise<Map<string, LiveObservation>> {
    const limit = opts.concurrency ?? DEFAULT_CONCURRENCY;
    const out = new Map<string, LiveObservation>();
    const byRegion = new Map<string, AwsLiveTarget[]>();
    for (const t of targets) byRegion.set(t.region, [...(byRegion.get(t.region) ?? []), t]);
    await Promise.all(
      [...byRegion].map(async ([region, list]) => {
        const client = this.client(region);
        const present: AwsLiveTarget[] = [];
        await eachLimited(list, limit, async (t) => {
          try {
            const d = await client.send(new DescribeSecretCommand({ SecretId: t.name }), {
              abortSignal: signal,
            });
            const o = described(d);
            out.set(t.id, o);
            if (o.state === 'present') present.push(t);
          } catch (err) {
            out.set(t.id, missing(err) ? { state: 'missing' } : failure(err));
          }
        });
        // BatchGetSecretValue takes at most 20 secrets a call.
        const batches: AwsLiveTarget[][] = [];
        for (let i = 0; i < present.length; i += BATCH) batches.push(present.slice(i, i + BATCH));
        await eachLimited(batches, limit, (b) => this.values(client, b, out, signal));
      }),
    );
    return out;
  }

  private async values(
    client: SecretsManagerClient,
    present: AwsLiveTarget[],
    out: Map<string, LiveObservation>,
    signal: AbortSignal,
  ): Promise<void> {
    if (present.length === 0) return;
    const setHash = (t: AwsLiveTarget, v: { SecretString?: string; SecretBinary?: Uint8Array }) => {
      const o = out.get(t.id);
      const bytes = valueBytes(v);
      if (o === undefined || bytes === undefined) return;
      o.valueSha256 = sha256(bytes);
      if (t.capture === true) o.captured = bytes;
    };
    if (present.length === 1) {
      const [t] = present;
      if (t === undefined) return;
      try {
        const v = await client.send(
          new GetSecretValueCommand({ SecretId: t.name, VersionStage: 'AWSCURRENT' }),
          { abortSignal: signal },
        );
        setHash(t, v);
      } catch (err) {
        out.set(t.id, failure(err));
      }
      return;
    }
    try {
      const r = await client.send(
        new BatchGetSecretValueCommand({ SecretIdList: present.map((t) => t.name) }),
        { abortSignal: signal },
      );
      for (const v of r.SecretValues ?? []) {
        const t = present.find((p) => p.name === v.Name || p.name === v.ARN);
        if (t !== undefined) setHash(t, v);
      }
      for (const e of r.Errors ?? []) {
        const t = present.find((p) => p.name === e.SecretId);
        if (t !== undefined) out.set(t.id, failure({ name: e.ErrorCode, message: e.Message }));
      }
    } catch (err) {
      for (const t of present) out.set(t.id, failure(err));
    }
  }
}

/** A client for a region, from the default credential chain or the given endpoint and keys. */
export function awsClients(options: {
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}): ClientFactory {
  const clients = new Map<string, SecretsManagerClient>();
  return (region) => {
    let c = clients.get(region);
    if (c === undefined) {
      c = new SecretsManagerClient({
        region,
        maxAttempts: 2,
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      });
      clients.set(region, c);
    }
    return c;
  };
}
