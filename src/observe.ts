/**
 * Reading what providers report on observed managed resources. Observed objects arrive as
 * untyped JSON from the API server (or from a hostile test), so every accessor checks types.
 */

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function get(o: unknown, ...path: string[]): unknown {
  let cur = o;
  for (const p of path) cur = isObj(cur) ? cur[p] : undefined;
  return cur;
}

export function getString(o: unknown, ...path: string[]): string | undefined {
  const v = get(o, ...path);
  return typeof v === 'string' ? v : undefined;
}

export function getNumber(o: unknown, ...path: string[]): number | undefined {
  const v = get(o, ...path);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export interface ObservedCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

export function condition(o: unknown, type: string): ObservedCondition | undefined {
  const list = get(o, 'status', 'conditions');
  if (!Array.isArray(list)) return undefined;
  for (const c of list as unknown[]) {
    if (!isObj(c) || c.type !== type) continue;
    return {
      type,
      status: typeof c.status === 'string' ? c.status : 'Unknown',
      reason: typeof c.reason === 'string' ? c.reason : '',
      message: typeof c.message === 'string' ? c.message : '',
      observedGeneration:
        typeof c.observedGeneration === 'number' ? c.observedGeneration : undefined,
    };
  }
  return undefined;
}

/**
 * A condition describes the current spec only if it saw the current generation: the
 * condition's own observedGeneration, else the status-wide one. Providers that report neither
 * cannot be checked, and are believed.
 */
function current(o: unknown, c: ObservedCondition): boolean {
  const generation = getNumber(o, 'metadata', 'generation');
  const seen = c.observedGeneration ?? getNumber(o, 'status', 'observedGeneration');
  if (generation === undefined || seen === undefined) return true;
  return seen === generation;
}

export interface Health {
  ready: boolean;
  synced: boolean;
  /** Why it is not healthy, from the provider's own condition, else empty. */
  problem: string;
  /** The provider's own error text when a condition is False, else empty. */
  error: string;
}

/**
 * Judges a managed resource from all three conditions an upjet provider writes: a failed async
 * apply lands on LastAsyncOperation while Synced can still read True.
 */
export function health(o: unknown): Health {
  const ready = condition(o, 'Ready');
  const synced = condition(o, 'Synced');
  const async = condition(o, 'LastAsyncOperation');
  const isReady = ready?.status === 'True' && current(o, ready);
  const asyncOk = async === undefined || async.status !== 'False';
  const isSynced = synced?.status === 'True' && current(o, synced) && asyncOk;
  const failing = [synced, async, ready].find((c) => c !== undefined && c.status === 'False');
  let problem = '';
  let error = '';
  if (failing !== undefined) {
    const detail = failing.message === '' ? '' : `: ${failing.message}`;
    problem = `${failing.type} is False (${failing.reason || 'no reason'})${detail}`;
    // Ready=False while creating is progress, not an error; Synced and async failures are.
    if (failing.type !== 'Ready' || failing.message !== '') error = failing.message || problem;
  } else if (synced !== undefined && !current(o, synced)) {
    problem = 'the provider has not yet observed the current spec';
  }
  return { ready: isReady, synced: isSynced, problem, error };
}
