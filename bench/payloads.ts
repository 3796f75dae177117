/**
 * Realistic RunFunction requests, built by driving the function through the same simulated
 * Crossplane loop the tests use: a first call, a steady state with every target observed ready,
 * and the middle of a canary rotation; for one target and for four.
 */
import { createHash } from 'node:crypto';

import {
  RunFunctionRequest,
  type RunFunctionRequest as Request,
} from '@crossplane-org/function-sdk-typescript';

import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { at, Cluster, MINUTE, plus } from '../test/cluster.js';
import { desiredObjects, example, request, testDeps } from '../test/helpers.js';

export interface Scenario {
  name: string;
  targets: number;
  request: Request;
}

const T0 = at('2026-12-01T10:00:00.000Z');

function oneTarget(): Obj {
  const xr = example('rotation-canary');
  const spec = xr.spec as { targets: Obj[]; rotation: Obj };
  return {
    ...xr,
    spec: { ...spec, targets: spec.targets.slice(0, 1), rotation: { every: '720h' } },
  };
}

function steady(xr: Obj): Request {
  const c = new Cluster(xr);
  c.reconcile(T0);
  c.reconcile(plus(T0, MINUTE));
  c.reconcile(plus(T0, 2 * MINUTE));
  return request(c.xr, { observed: c.observed });
}

function canary(): Request {
  const c = new Cluster(example('rotation-canary'));
  c.reconcile(T0);
  c.reconcile(plus(T0, MINUTE));
  c.annotate('secrets.crossplatform.io/rotate', 'bench');
  c.reconcile(plus(T0, 2 * MINUTE));
  c.reconcile(plus(T0, 3 * MINUTE));
  return request(c.xr, { observed: c.observed });
}

export function scenarios(): Scenario[] {
  const four = example('rotation-canary');
  return [
    { name: 'first call', targets: 1, request: request(oneTarget()) },
    { name: 'first call', targets: 4, request: request(four) },
    { name: 'steady state', targets: 1, request: steady(oneTarget()) },
    { name: 'steady state', targets: 4, request: steady(four) },
    { name: 'canary rotation', targets: 4, request: canary() },
  ];
}

/**
 * The same observed state for the Go function, whose input composes, like
 * function-patch-and-transform would, the resources our function emits: bases from our
 * desired output and patches of the fields that come from the composite.
 */
export function goRequest(ours: Request): Request {
  const rsp = runFunction(ours, testDeps());
  const resources = Object.entries(desiredObjects(rsp)).map(([name, base]) => {
    const target = name.split('-')[0] ?? '';
    const index = ['aws', 'azure', 'vault', 'pods'].findIndex((p) => target.startsWith(p));
    const patches =
      index < 0
        ? []
        : [
            {
              from: `spec.targets[${index}].name`,
              to: 'metadata.labels[secrets.crossplatform.io/target]',
            },
            { from: 'metadata.namespace', to: 'metadata.namespace' },
          ];
    return { name, base, patches };
  });
  const json = RunFunctionRequest.toJSON(ours) as Obj;
  return RunFunctionRequest.fromJSON({
    ...json,
    input: { apiVersion: 'bench/v1', kind: 'Input', resources },
  });
}

/** Encoded with a tag as Crossplane makes it: the SHA-256 of the request's encoding. */
export function encode(req: Request): Buffer {
  const untagged = RunFunctionRequest.encode({
    ...req,
    meta: { capabilities: [], ...req.meta, tag: '' },
  }).finish();
  const tag = createHash('sha256').update(untagged).digest('hex');
  return Buffer.from(
    RunFunctionRequest.encode({ ...req, meta: { capabilities: [], ...req.meta, tag } }).finish(),
  );
}
