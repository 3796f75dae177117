/**
 * The live reads of one function call: which targets to read, read through the shared engine
 * within the step's budget, for a request already validated by the function.
 */
import { createHash } from 'node:crypto';

import type { RunFunctionRequest } from '@crossplane-org/function-sdk-typescript';

import { parseDuration } from '../duration.js';
import type { Prepared } from '../function.js';
import { get, isObj } from '../observe.js';
import { previousTargets } from '../previous.js';
import type { Engine, LiveItem, Reading } from './engine.js';
import { planLive, stepCredentials, type Adapters } from './live.js';

export interface LiveDeps {
  engine: Engine;
  adapters: Adapters;
}

export interface LiveReadings {
  /** By target name. */
  readings: Map<string, Reading>;
  /** Targets that cannot be read, with why. */
  problems: Map<string, string>;
}

/**
 * Crossplane gives a pipeline step a bounded time; the reads must leave the step most of it
 * whatever the input says.
 */
export const MAX_BUDGET_MS = 25_000;

/** A target suspected of drift, or still moving, is read again after this long. */
const REREAD_MS = 30_000;
const SUSPECT = new Set(['Drifted', 'Missing', 'Deleted', 'Behind', 'Adopting']);

export async function readLive(
  req: RunFunctionRequest,
  p: Prepared,
  deps: LiveDeps,
): Promise<LiveReadings | undefined> {
  const { xr, namespace, spec, plan } = p;
  const config = p.input.verification;
  if (config === undefined) return undefined;
  const budgetMs = Math.min(parseDuration(config.budget) ?? 10_000, MAX_BUDGET_MS);
  const ttlMs = parseDuration(config.ttl) ?? 300_000;
  const origin = spec.targets.find((t) => t.origin === true)?.name;
  const lp = planLive(
    plan.targets,
    config,
    namespace,
    stepCredentials(req.credentials),
    deps.adapters,
    { budgetMs, ttlMs, ...(origin === undefined ? {} : { origin }) },
  );
  const previous = previousTargets(xr);
  const items: LiveItem[] = lp.items.map((r) => ({
    ...r.item,
    key: `${r.item.key}\n${providerState(req, r.name)}`,
    ...(SUSPECT.has(previous.get(r.name)?.live ?? '') ? { maxAgeMs: REREAD_MS } : {}),
  }));
  const got = await deps.engine.verify(items, budgetMs);
  const readings = new Map<string, Reading>();
  for (const [i, r] of lp.items.entries()) {
    const reading = got.get(items[i]?.key ?? '');
    if (reading !== undefined) readings.set(r.name, reading);
  }
  return { readings, problems: lp.problems };
}

/**
 * What the providers last reported for a target's managed resources. A reading is only good
 * for the state it was taken in: once a provider writes (and reports it), the target is read
 * again rather than judged by a reading from before the write.
 */
function providerState(req: RunFunctionRequest, target: string): string {
  const h = createHash('sha256');
  const prefix = new RegExp(`^${target}-(aws|azure|vault|kubernetes)-`);
  for (const [key, r] of Object.entries(req.observed?.resources ?? {}).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    if (!prefix.test(key) || !isObj(r.resource)) continue;
    const o = r.resource;
    h.update(key).update(JSON.stringify([get(o, 'metadata', 'generation'), o.status ?? null]));
  }
  return h.digest('hex').slice(0, 16);
}
