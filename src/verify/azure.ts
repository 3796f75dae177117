/**
 * Azure Key Vault, read-only through @azure/keyvault-secrets: the latest version of each secret,
 * hashed at once, and the deleted-secrets view to tell a soft-deleted secret from a missing one.
 */
import { createHash } from 'node:crypto';

import {
  ClientSecretCredential,
  DefaultAzureCredential,
  type TokenCredential,
} from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';

import { liveBytes } from './bytes.js';
import { DEFAULT_CONCURRENCY, eachLimited } from './pool.js';
import { scrubError } from './scrub.js';
import type { Adapter, LiveObservation } from './types.js';

export { vaultUrlOf } from './azure-url.js';

export interface AzureLiveTarget {
  /** The caller's key for this target. */
  id: string;
  /** https://<vault>.vault.azure.net, or the sovereign cloud's suffix; see vaultUrlOf. */
  vaultUrl: string;
  name: string;
  encoding: 'Text' | 'Base64';
  /** Keep the value in the observation (the origin of an external rotation). */
  capture?: boolean;
}

export type SecretClientFactory = (vaultUrl: string) => SecretClient;

export type RetryOptions = NonNullable<SecretClientOptions['retryOptions']>;

const NO_ANSWER: LiveObservation = { state: 'unknown', error: 'no answer within the time budget' };

/** The shape of a RestError from the SDK, read without depending on @azure/core-rest-pipeline. */
interface Failure {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { error?: { code?: string; innerError?: { code?: string } } };
}

/**
 * Only Key Vault's own code counts as absent: a bare 404 can come from a proxy or a wrong URL,
 * and reporting that as missing would invite recreating a secret that exists.
 */
function notFound(err: unknown): boolean {
  const e = err as Failure;
  return e.statusCode === 404 && e.code === 'SecretNotFound';
}

function disabled(e: Failure): boolean {
  return (
    e.statusCode === 403 &&
    (e.code === 'SecretDisabled' ||
      e.details?.error?.innerError?.code === 'SecretDisabled' ||
      /disabled secret/i.test(e.message ?? ''))
  );
}

function failure(err: unknown, signal: AbortSignal): LiveObservation {
  const e = err as Failure;
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || signal.aborted) return NO_ANSWER;
  if (e.statusCode === 429) return { state: 'unknown', error: 'throttled by Azure Key Vault' };
  // A disabled secret exists, but Key Vault refuses to return its value or even its current
  // version, so nothing can be compared; 'present' without a hash would read as "nothing to
  // report" to a caller, while 'unknown' makes the operator look.
  if (disabled(e)) return { state: 'unknown', error: 'the secret is disabled' };
  return {
    state: 'unknown',
    error: scrubError(`${e.code ?? e.name ?? 'Error'}: ${e.message ?? ''}`),
  };
}

/** Settles with the promise, or rejects as soon as the budget runs out, whichever is first. */
function within<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}

export class AzureAdapter implements Adapter<AzureLiveTarget> {
  readonly platform = 'azure' as const;

  constructor(private readonly client: SecretClientFactory) {}

  async observe(
    targets: readonly AzureLiveTarget[],
    signal: AbortSignal,
    opts: { concurrency?: number } = {},
  ): Promise<Map<string, LiveObservation>> {
    const out = new Map<string, LiveObservation>();
    // One client per vault for the pass even when the factory does not cache, so each vault's
    // challenge handshake happens once.
    const clients = new Map<string, SecretClient>();
    const clientFor = (url: string) => {
      const key = normalise(url);
      let c = clients.get(key);
      if (c === undefined) {
        c = this.client(key);
        clients.set(key, c);
      }
      return c;
    };
    await eachLimited(targets, opts.concurrency ?? DEFAULT_CONCURRENCY, async (t) => {
      out.set(t.id, await this.one(clientFor(t.vaultUrl), t, signal));
    });
    return out;
  }

  private async one(
    client: SecretClient,
    t: AzureLiveTarget,
    signal: AbortSignal,
  ): Promise<LiveObservation> {
    if (signal.aborted) return NO_ANSWER;
    try {
      const s = await within(client.getSecret(t.name, { abortSignal: signal }), signal);
      const p = s.properties;
      const live = s.value === undefined ? undefined : liveBytes(s.value, t.encoding);
      return {
        state: 'present',
        ...(p.version === undefined ? {} : { version: p.version }),
        ...(p.updatedOn === undefined ? {} : { updatedAt: p.updatedOn.toISOString() }),
        ...(live === undefined
          ? {}
          : { valueSha256: createHash('sha256').update(live.bytes).digest('hex') }),
        ...(live?.exact === true && t.capture === true ? { captured: live.bytes } : {}),
      };
    } catch (err) {
      if (!notFound(err)) return failure(err, signal);
    }
    // The live secret is gone either way; the deleted view only says whether it can still be
    // recovered (and blocks reuse of the name), so any failure here leaves it 'missing'.
    try {
      const d = await within(client.getDeletedSecret(t.name, { abortSignal: signal }), signal);
      const version = d.properties.version;
      return {
        state: 'deleted',
        ...(version === undefined ? {} : { version }),
        ...(d.deletedOn === undefined ? {} : { updatedAt: d.deletedOn.toISOString() }),
      };
    } catch {
      return { state: 'missing' };
    }
  }
}

function normalise(vaultUrl: string): string {
  return vaultUrl.replace(/\/+$/, '');
}

/**
 * The throttling strategy of the Azure pipeline sleeps for whatever Retry-After says, and Key
 * Vault asks for many seconds; inside a time budget that would turn "throttled" into "no
 * answer". Dropping a Retry-After longer than the cap makes the 429 surface at once.
 */
function retryAfterCap(maxMs: number): NonNullable<SecretClientOptions['additionalPolicies']>[0] {
  const headers = ['retry-after-ms', 'x-ms-retry-after-ms', 'retry-after'];
  const waitMs = (name: string, raw: string): number => {
    if (name !== 'retry-after') return Number(raw);
    const seconds = Number(raw);
    return Number.isFinite(seconds) ? seconds * 1000 : Date.parse(raw) - Date.now();
  };
  return {
    position: 'perRetry',
    policy: {
      name: 'retryAfterCapPolicy',
      async sendRequest(request, next) {
        const response = await next(request);
        if (response.status !== 429 && response.status !== 503) return response;
        const tooLong = headers.some((h) => {
          const raw = response.headers.get(h);
          return raw !== undefined && !(waitMs(h, raw) <= maxMs);
        });
        if (tooLong) for (const h of headers) response.headers.delete(h);
        return response;
      },
    },
  };
}

/** A cached SecretClient per vault URL, all sharing one credential and its token cache. */
export function azureClients(options: {
  /** Defaults to DefaultAzureCredential: workload or pod identity in the cluster. */
  credential?: TokenCredential;
  serviceVersion?: SecretClientOptions['serviceVersion'];
  retry?: RetryOptions;
  /**
   * Only for emulators and tests: the check stops a token for vault.azure.net from being sent
   * to a host that is not a Key Vault.
   */
  disableChallengeResourceVerification?: boolean;
  /** Extra CAs (and client certificates) for a vault behind a private CA. */
  tlsOptions?: SecretClientOptions['tlsOptions'];
}): SecretClientFactory {
  const credential = options.credential ?? new DefaultAzureCredential();
  // One retry at most: a time budget bounds the whole observation, and the SDK's default of
  // three retries with backoff would outlast it.
  const retryOptions: RetryOptions = {
    maxRetries: 1,
    retryDelayInMs: 500,
    maxRetryDelayInMs: 2000,
    ...options.retry,
  };
  const clients = new Map<string, SecretClient>();
  return (vaultUrl) => {
    const key = normalise(vaultUrl);
    let c = clients.get(key);
    if (c === undefined) {
      c = new SecretClient(key, credential, {
        retryOptions,
        additionalPolicies: [retryAfterCap(retryOptions.maxRetryDelayInMs ?? 2000)],
        ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion }),
        ...(options.disableChallengeResourceVerification === true
          ? { disableChallengeResourceVerification: true }
          : {}),
        ...(options.tlsOptions === undefined ? {} : { tlsOptions: options.tlsOptions }),
      });
      clients.set(key, c);
    }
    return c;
  };
}

/** A service principal's credential; authorityHost selects a sovereign cloud. */
export function clientSecretCredential(
  tenantId: string,
  clientId: string,
  clientSecret: string,
  authorityHost?: string,
): ClientSecretCredential {
  return new ClientSecretCredential(
    tenantId,
    clientId,
    clientSecret,
    authorityHost === undefined ? {} : { authorityHost },
  );
}
