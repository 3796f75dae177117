/**
 * Kubernetes Secrets, read-only through @kubernetes/client-node: the bytes under the target's
 * key, hashed at once, with the Secret's resourceVersion as the version marker.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';

import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  Observable,
  type RequestContext,
  type ResponseContext,
  type V1Secret,
} from '@kubernetes/client-node';

import { DEFAULT_CONCURRENCY, eachLimited } from './pool.js';
import { scrubError } from './scrub.js';
import type { Adapter, LiveObservation } from './types.js';

export interface KubernetesLiveTarget {
  id: string;
  namespace: string;
  name: string;
  key: string;
  /** Keep the value in the observation (the origin of an external rotation). */
  capture?: boolean;
}

const NO_ANSWER = 'no answer within the time budget';

/** The rejection of the budget's own race, told apart from the client's errors. */
class OutOfTime extends Error {}

/** client-node turns RFC 3339 fields into Dates; a hand-made object may still hold strings. */
function iso(v: unknown): string | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.toISOString();
  if (typeof v === 'string' && v !== '') return v;
  return undefined;
}

/**
 * Kubernetes keeps no modification time; the newest managed-fields entry is the last write by
 * any field manager, and a Secret written before server-side apply has only its creation time.
 */
function updatedAt(s: V1Secret): string | undefined {
  const times = (s.metadata?.managedFields ?? [])
    .map((f) => iso(f.time))
    .filter((t): t is string => t !== undefined)
    .sort();
  return times.at(-1) ?? iso(s.metadata?.creationTimestamp);
}

function observed(s: V1Secret, t: KubernetesLiveTarget): LiveObservation {
  const rv = s.metadata?.resourceVersion;
  const version = rv === undefined ? {} : { version: rv };
  const deletedAt = iso(s.metadata?.deletionTimestamp);
  if (deletedAt !== undefined) return { state: 'deleted', ...version, updatedAt: deletedAt };
  const encoded = s.data?.[t.key];
  if (encoded === undefined) return { state: 'missing' };
  // data holds base64; the value is the decoded bytes, as a pod sees them in its volume.
  const bytes = Buffer.from(encoded, 'base64');
  const when = updatedAt(s);
  return {
    state: 'present',
    ...version,
    ...(when === undefined ? {} : { updatedAt: when }),
    valueSha256: createHash('sha256').update(bytes).digest('hex'),
    ...(t.capture === true ? { captured: bytes } : {}),
  };
}

/** The message of a Kubernetes Status body, which client-node passes on unparsed. */
function statusMessage(body: unknown): string | undefined {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof b !== 'object' || b === null) return undefined;
  const m = (b as { message?: unknown }).message;
  return typeof m === 'string' ? m : undefined;
}

function failed(err: unknown): LiveObservation {
  if (err instanceof OutOfTime) return { state: 'unknown', error: NO_ANSWER };
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    if (code === 404) return { state: 'missing' };
    if (code === 429) return { state: 'unknown', error: 'throttled by the Kubernetes API' };
    // client-node's own message carries every response header; the Status message is enough,
    // and a 401 comes without a body at all.
    const message =
      statusMessage((err as ApiException<unknown>).body) ?? STATUS_CODES[code] ?? 'no message';
    return { state: 'unknown', error: scrubError(`Kubernetes API ${String(code)}: ${message}`) };
  }
  const e = err as { name?: string; message?: string };
  if (e.name === 'AbortError') return { state: 'unknown', error: NO_ANSWER };
  return { state: 'unknown', error: scrubError(e.message ?? 'no answer') };
}

/**
 * Hands the budget's signal to the request itself, so a server that never answers loses its
 * socket when the budget ends instead of holding it until the kernel gives up.
 */
function withSignal(signal: AbortSignal) {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
      },
    ],
    middlewareMergeStrategy: 'append' as const,
  };
}

export class KubernetesAdapter implements Adapter<KubernetesLiveTarget> {
  readonly platform = 'kubernetes' as const;
  private readonly api: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  async observe(
    targets: readonly KubernetesLiveTarget[],
    signal: AbortSignal,
    opts: { concurrency?: number } = {},
  ): Promise<Map<string, LiveObservation>> {
    const out = new Map<string, LiveObservation>();
    await eachLimited(targets, opts.concurrency ?? DEFAULT_CONCURRENCY, async (t) => {
      out.set(t.id, await this.one(t, signal));
    });
    return out;
  }

  private async one(t: KubernetesLiveTarget, signal: AbortSignal): Promise<LiveObservation> {
    if (signal.aborted) return { state: 'unknown', error: NO_ANSWER };
    let onAbort: () => void = () => undefined;
    // The race keeps the budget even where a client or an agent ignores the signal.
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        reject(new OutOfTime());
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const secret = await Promise.race([
        this.api.readNamespacedSecret({ namespace: t.namespace, name: t.name }, withSignal(signal)),
        aborted,
      ]);
      return observed(secret, t);
    } catch (err) {
      return failed(err);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * The client configuration: the given kubeconfig file, or else the usual search ($KUBECONFIG,
 * ~/.kube/config, then the pod's own service account when running in a cluster).
 */
export function kubernetesClient(kubeconfigPath?: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath !== undefined && kubeconfigPath !== '') kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  if (context !== undefined && context !== '') {
    // setCurrentContext accepts any name; an unknown one would fail only at the first request.
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new Error(`the kubeconfig has no context named ${context}`);
    }
    kc.setCurrentContext(context);
  }
  return kc;
}
