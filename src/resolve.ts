/**
 * Works out the value for this call. A stored value always wins: it is generated (or copied)
 * once, and every later call reuses it, so a plain reconcile never changes what targets hold.
 */
import { ANNOTATION_REGENERATE } from './names.js';
import { get, getString, isObj } from './observe.js';
import type { SecretSpec } from './spec.js';
import type { StoreRead, StoredValue } from './store.js';
import { BASE64, generateValue, type RandomInt } from './value.js';

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
  /** Targets already show a written value, so a missing store means a lost one. */
  lost?: { highestVersion: number; acceptNew: boolean };
}

type SourceRead = { found: true; value: Buffer } | { found: false; why: string };

function readSource(args: ResolveArgs, name: string, key: string): SourceRead {
  // Only the Secret asked for counts, whatever else a caller put in the list.
  const secret = args.source.items.find(
    (i) =>
      getString(i, 'metadata', 'name') === name &&
      (getString(i, 'metadata', 'namespace') ?? args.namespace) === args.namespace,
  );
  const where = `Secret "${name}" in namespace "${args.namespace}"`;
  if (!isObj(secret)) return { found: false, why: `${where} does not exist` };
  const encoded = get(secret, 'data', key);
  if (typeof encoded !== 'string') return { found: false, why: `${where} has no key "${key}"` };
  if (!BASE64.test(encoded)) return { found: false, why: `key "${key}" of ${where} is not base64` };
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
        'is generated while a stored one may be in use: restore the Secret',
    };
  }
  if (store.kind === 'absent' && args.lost !== undefined && !args.lost.acceptNew) {
    return {
      kind: 'fatal',
      message:
        `cannot find the value store Secret "${args.storeName}" although targets already hold ` +
        'a value; no new value is generated, which would replace it everywhere: restore the ' +
        `Secret, or set the annotation ${ANNOTATION_REGENERATE}: "true" to accept a new value`,
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
    return {
      kind: 'ok',
      store: first(source.value, args),
      created: 'copied',
      warnings: lostWarning(args),
    };
  }

  if (store.kind === 'ok') return { kind: 'ok', store: store.store, warnings: [] };
  const gen = spec.value.generate ?? { length: 32, characters: 'alphanumeric' };
  const value = generateValue(gen.length, gen.characters, args.random);
  return {
    kind: 'ok',
    store: first(value, args),
    created: 'generated',
    warnings: lostWarning(args),
  };
}

function lostWarning(args: ResolveArgs): string[] {
  if (args.lost === undefined) return [];
  return [
    `the value store Secret "${args.storeName}" was lost; as accepted by ` +
      `${ANNOTATION_REGENERATE}, a new value replaces the one the targets hold`,
  ];
}

function first(value: Buffer, args: ResolveArgs): StoredValue {
  // After a lost store, number above anything a target references, so no evidence is confused.
  const version = (args.lost?.highestVersion ?? 0) + 1;
  return {
    version,
    values: new Map([[version, value]]),
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
