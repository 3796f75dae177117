import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';

import {
  RunFunctionRequest,
  type RunFunctionResponse,
} from '@crossplane-org/function-sdk-typescript';
import { parseAllDocuments } from 'yaml';

import type { Deps } from '../src/function.js';
import { newLogger } from '../src/logger.js';
import type { Obj } from '../src/observe.js';
import { documentKey } from '../src/targets/vault.js';
import { observeOne, reconcile } from './provider-sim.js';

export const ROOT = new URL('../', import.meta.url).pathname;
export const SHARED = `${ROOT}../shared`;

export function loadDocs(path: string): Obj[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as unknown)
    .filter((d): d is Obj => typeof d === 'object' && d !== null);
}

export function loadDoc(path: string): Obj {
  const [doc] = loadDocs(path);
  if (doc === undefined) throw new Error(`no document in ${path}`);
  return doc;
}

export function example(name: string): Obj {
  return loadDoc(`${ROOT}examples/${name}.yaml`);
}

/** The input the packaged Composition passes to the function. */
export function compositionInput(): Obj {
  const comp = loadDoc(`${ROOT}apis/composition.yaml`) as {
    spec: { pipeline: { input: Obj }[] };
  };
  const step = comp.spec.pipeline[0];
  if (step === undefined) throw new Error('composition has no pipeline step');
  return step.input;
}

export interface RequestParts {
  observed?: Record<string, Obj>;
  input?: Obj | null;
  required?: Record<string, Obj[]>;
}

export function request(xr: Obj, parts: RequestParts = {}): RunFunctionRequest {
  const resources: Record<string, { resource: Obj }> = {};
  for (const [k, v] of Object.entries(parts.observed ?? {})) resources[k] = { resource: v };
  const required: Record<string, { items: { resource: Obj }[] }> = {};
  for (const [k, v] of Object.entries(parts.required ?? {})) {
    required[k] = { items: v.map((resource) => ({ resource })) };
  }
  return RunFunctionRequest.fromJSON({
    meta: { tag: 'test' },
    observed: { composite: { resource: xr }, resources },
    desired: {},
    input: parts.input === null ? undefined : (parts.input ?? compositionInput()),
    requiredResources: required,
  });
}

/** A deterministic random source (mulberry32), so generated values are reproducible. */
export function seededRandom(seed: number): (max: number) => number {
  let a = seed >>> 0;
  return (max) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(r * max);
  };
}

export const NOW = new Date('2026-12-01T10:00:00.000Z');

export interface TestDeps extends Deps {
  logs: string[];
}

export function testDeps(seed = 1): TestDeps {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: newLogger(true, sink), random: seededRandom(seed), now: () => NOW, logs };
}

export function desiredObjects(rsp: RunFunctionResponse): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  for (const [k, r] of Object.entries(rsp.desired?.resources ?? {})) {
    out[k] = r.resource as Obj;
  }
  return out;
}

export function storeValue(rsp: RunFunctionResponse, version = 1): Buffer {
  const data = desiredObjects(rsp).store?.data as Record<string, string> | undefined;
  const encoded = data?.[`v${String(version)}`];
  if (encoded === undefined) throw new Error('no stored value');
  return Buffer.from(encoded, 'base64');
}

/**
 * What the API server and a real provider would report back for a desired resource once it is
 * applied and reconciled for the first time.
 */
export function asObserved(desired: Obj): Obj {
  const key = resourceKey(desired) || String((desired.metadata as Obj | undefined)?.name);
  return observeOne(key, desired, undefined);
}

export function observeAll(rsp: RunFunctionResponse): Record<string, Obj> {
  return reconcile(desiredObjects(rsp), {});
}

/**
 * Every string a user could read that is not a composed resource: result and condition
 * messages, every string in the composite's status, and each raw log line.
 */
export function userVisibleStrings(rsp: RunFunctionResponse, logs: string[]): string[] {
  const out: string[] = [...logs];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
  };
  const composite: Obj | undefined = rsp.desired?.composite?.resource;
  walk(rsp.results);
  walk(rsp.conditions);
  walk(composite?.status);
  return out;
}

/** The store key of the JSON document of the examples' "vault-onprem" target, for a version. */
export function onpremDocument(version: number): string {
  const settings = {
    mount: 'secret',
    path: 'team-a/db-password',
    key: 'password',
    kvVersion: 2 as const,
    encoding: 'Text' as const,
  };
  return documentKey(settings, 'vault-onprem', version);
}

/** A v1 Secret in namespace team-a whose data holds the given bytes, for spec.value.fromSecret. */
export function sourceSecret(name: string, data: Record<string, Buffer>): Obj {
  const encoded: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) encoded[k] = v.toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'team-a' },
    data: encoded,
  };
}

/** A composite in namespace team-a whose value is copied from a Secret. */
export function fromSecretComposite(source: string, key: string, targets: Obj[]): Obj {
  return {
    apiVersion: 'secrets.crossplatform.io/v1alpha1',
    kind: 'CrossPlatformSecret',
    metadata: { name: 'app', namespace: 'team-a' },
    spec: { value: { fromSecret: { name: source, key } }, targets },
  };
}

/** The crossplane.io/composition-resource-name of a composed resource, or empty. */
export function resourceKey(o: Obj): string {
  const annotations = (o.metadata as Obj | undefined)?.annotations as
    Record<string, string> | undefined;
  return annotations?.['crossplane.io/composition-resource-name'] ?? '';
}
