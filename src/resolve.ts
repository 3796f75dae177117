/**
 * Works out the value for this call. A stored value always wins: it is generated (or copied)
 * once, and every later call reuses it, so a plain reconcile never changes what targets hold.
 */
import { get, isObj } from './observe.js';
import type { SecretSpec } from './spec.js';
import type { StoreRead, StoredValue } from './store.js';
import { generateValue, type RandomInt } from './value.js';

/** The name under which the fromSecret source is requested from Crossplane. */
export const SOURCE_REQUIREMENT = 'value-source';

export interface SourceLookup {
  /** Crossplane has answered the requirement (the list may still be empty). */
  resolved: boolean;
  items: unknown[];
}

export type Resolution =
  | { kind: 'pending' }
  | { kind: 'fatal'; message: string }
  | {
      kind: 'ok';
      store: StoredValue;
      /** Set when this call created version 1. */
      created?: 'generated' | 'copied';
      /** The fromSecret source's current value, when it was read. */
      source?: Buffer;
      warnings: string[];
    };

export interface ResolveArgs {
  spec: SecretSpec;
  store: StoreRead;
  storeName: string;
  namespace: string;
  source: SourceLookup;
  now: Date;
  random: RandomInt;
  /** The composite's rotate annotation: a token present at creation is consumed by it. */
  token: string;
}

type SourceRead = { found: true; value: Buffer } | { found: false; why: string };

function readSource(args: ResolveArgs, name: string, key: string): SourceRead {
  const secret = args.source.items[0];
  const where = `Secret "${name}" in namespace "${args.namespace}"`;
  if (!isObj(secret)) return { found: false, why: `${where} does not exist` };
  const encoded = get(secret, 'data', key);
  if (typeof encoded !== 'string') return { found: false, why: `${where} has no key "${key}"` };
  const value = Buffer.from(encoded, 'base64');
  if (value.length === 0) return { found: false, why: `key "${key}" of ${where} is empty` };
  return { found: true, value };
}

export function resolveValue(args: ResolveArgs): Resolution {
  const { spec, store } = args;
  if (store.kind === 'invalid') {
    return {
      kind: 'fatal',
      message:
        `cannot read the value store Secret "${args.storeName}": ${store.reason}; no new value ` +
        'is generated while a stored one may be in use: restore the Secret or delete it to start over',
    };
  }
  const from = spec.value.fromSecret;
  if (from !== undefined) {
    if (!args.source.resolved && store.kind === 'absent') return { kind: 'pending' };
    const source = args.source.resolved ? readSource(args, from.name, from.key) : undefined;
    if (store.kind === 'ok') {
      if (source !== undefined && !source.found) {
        const warning = `spec.value.fromSecret: ${source.why}; targets keep the stored version`;
        return { kind: 'ok', store: store.store, warnings: [warning] };
      }
      return { kind: 'ok', store: store.store, source: source?.value, warnings: [] };
    }
    if (source === undefined || !source.found) {
      const why = source?.why ?? 'the source Secret was not provided';
      return { kind: 'fatal', message: `cannot read spec.value.fromSecret: ${why}` };
    }
    return { kind: 'ok', store: first(source.value, args), created: 'copied', warnings: [] };
  }

  if (store.kind === 'ok') return { kind: 'ok', store: store.store, warnings: [] };
  const gen = spec.value.generate ?? { length: 32, characters: 'alphanumeric' };
  const value = generateValue(gen.length, gen.characters, args.random);
  return { kind: 'ok', store: first(value, args), created: 'generated', warnings: [] };
}

function first(value: Buffer, args: ResolveArgs): StoredValue {
  return {
    version: 1,
    values: new Map([[1, value]]),
    rotatedAt: args.now.toISOString(),
    token: args.token,
  };
}

/** The selector Crossplane uses to fetch the fromSecret source; sent on every call. */
export function sourceSelector(spec: SecretSpec, namespace: string) {
  const from = spec.value.fromSecret;
  if (from === undefined) return undefined;
  return { apiVersion: 'v1', kind: 'Secret', matchName: from.name, namespace };
}
