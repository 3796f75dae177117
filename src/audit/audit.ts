/**
 * The audit: every target of every CrossPlatformSecret read through the same adapters, engine
 * and judgement the function uses, compared with the value store when it can be read, else with
 * the other targets of the same secret. Rows carry states and version numbers, never values.
 */
import type { Obj } from '../observe.js';
import { getNumber, getString, isObj } from '../observe.js';
import { judgeLive, versionHashes, type LiveState } from '../livejudge.js';
import { storeName } from '../names.js';
import { planTargets } from '../plan.js';
import { parseSpec, type FunctionInput } from '../spec.js';
import { readStore } from '../store.js';
import { Redactor } from '../value.js';
import { parseDuration } from '../duration.js';
import type { Engine, Reading } from '../verify/engine.js';
import { planLive, type Adapters, type StepCredentials } from '../verify/live.js';

export type AuditState = LiveState;

export interface AuditRow {
  namespace: string;
  name: string;
  target: string;
  platform: string;
  externalName: string;
  state: AuditState;
  /** The stored version the live value equals, when known. */
  version?: number;
  /** What the live value was compared with: the value store, or the other targets. */
  against: 'store' | 'targets' | 'none';
  message: string;
}

export interface AuditOptions {
  input: FunctionInput;
  credentials: StepCredentials;
  engine: Engine;
  adapters: Adapters;
  /** Composites audited at once. */
  concurrency: number;
  /** Time allowed for one composite's reads, rate-limit waits included. */
  timeoutMs: number;
  /** The value store of a composite (the Secret `<name>.value-store`), if it can be read. */
  store?: (namespace: string, name: string) => Promise<Obj | undefined>;
  onProgress?: (done: number, total: number) => void;
}

/** States that are drift: the exit status of the command is non-zero when any row has one. */
export const DRIFT_STATES: readonly AuditState[] = ['Drifted', 'Missing', 'Deleted'];

export async function audit(composites: readonly Obj[], opts: AuditOptions): Promise<AuditRow[]> {
  const rows: AuditRow[][] = new Array<AuditRow[]>(composites.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < composites.length; i = next++) {
      const xr = composites[i];
      rows[i] = xr === undefined ? [] : await auditOne(xr, opts);
      opts.onProgress?.(++done, composites.length);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(opts.concurrency, composites.length)) }, worker),
  );
  return rows.flat();
}

async function auditOne(xr: Obj, opts: AuditOptions): Promise<AuditRow[]> {
  const name = getString(xr, 'metadata', 'name') ?? '';
  const namespace = getString(xr, 'metadata', 'namespace') ?? '';
  const base = { namespace, name };
  const whole = (message: string): AuditRow[] => [
    {
      ...base,
      target: '',
      platform: '',
      externalName: '',
      state: 'Unknown',
      against: 'none',
      message,
    },
  ];
  if (name === '' || namespace === '') return whole('not a namespaced object with a name');
  const spec = parseSpec(xr.spec);
  if (!spec.ok) return whole(`invalid spec: ${spec.errors.join('; ')}`);
  const plan = planTargets(spec.value, opts.input, {
    composite: { name, namespace },
    storeName: storeName(name),
  });
  if (plan.errors.length > 0) return whole(`invalid spec: ${plan.errors.join('; ')}`);
  const config = opts.input.verification;
  if (config === undefined) return whole('the input has no verification settings');
  const budgetMs = parseDuration(config.budget) ?? 10_000;
  const ttlMs = parseDuration(config.ttl) ?? 300_000;
  const lp = planLive(plan.targets, config, namespace, opts.credentials, opts.adapters, {
    budgetMs,
    ttlMs,
    missing: (name) => `no credentials named "${name}": pass --credentials=${name}=FILE`,
  });
  const got = await opts.engine.verify(
    lp.items.map((r) => r.item),
    opts.timeoutMs,
  );
  const readings = new Map<string, Reading>();
  for (const r of lp.items) {
    const reading = got.get(r.item.key);
    if (reading !== undefined) readings.set(r.name, reading);
  }

  const stored = readStore(
    opts.store === undefined ? undefined : await opts.store(namespace, name),
  );
  const reported = reportedVersions(xr);
  const majority = stored.kind === 'ok' ? undefined : commonHash(readings);

  // A platform's error text may quote what it holds; no stored value leaves in a row.
  const redact = new Redactor(stored.kind === 'ok' ? [...stored.store.values.values()] : []);
  const hashes = stored.kind === 'ok' ? versionHashes(stored.store.values) : undefined;
  return plan.targets.map((t): AuditRow => {
    const row = judgeRow(t);
    return { ...row, message: redact.scrub(row.message) };
  });

  function judgeRow(t: (typeof plan.targets)[number]): AuditRow {
    const row = {
      ...base,
      target: t.name,
      platform: t.platform,
      externalName: t.module.externalName(t.settings, namespace),
    };
    const reading = readings.get(t.name);
    const problem = lp.problems.get(t.name);
    if (reading === undefined) {
      const why = problem ?? `input.verification.${t.platform} is not set`;
      return { ...row, state: 'Unknown', against: 'none', message: why };
    }
    if (stored.kind === 'ok' && hashes !== undefined) {
      // What the composite's status last said; without one, the store's current version.
      const r = reported.get(t.name);
      const desired = r?.desired ?? stored.store.version;
      const j = judgeLive({
        reading: { ...reading, cached: false },
        hashes,
        desired,
        held: r === undefined ? desired : r.held,
        written: r === undefined || r.held > 0,
        now: new Date(),
      });
      return {
        ...row,
        state: j.status.state,
        ...(j.status.version === undefined ? {} : { version: j.status.version }),
        against: 'store',
        message: j.drift?.message ?? j.status.message,
      };
    }
    return { ...row, ...byTargets(reading, majority) };
  }
}

/** The version each target should hold and is proven to hold, as the status last said. */
function reportedVersions(xr: Obj): Map<string, { desired: number; held: number }> {
  const out = new Map<string, { desired: number; held: number }>();
  const list = isObj(xr.status) ? xr.status.targets : undefined;
  if (!Array.isArray(list)) return out;
  for (const t of list as unknown[]) {
    const n = getString(t, 'name');
    const desired = getNumber(t, 'desiredVersion');
    if (n !== undefined && desired !== undefined) {
      out.set(n, { desired, held: getNumber(t, 'heldVersion') ?? 0 });
    }
  }
  return out;
}

/**
 * The hash most readable targets share; undefined without a strict majority of at least two, so
 * a lone readable target is never taken as the truth.
 */
function commonHash(readings: Map<string, Reading>): string | undefined {
  const counts = new Map<string, number>();
  let total = 0;
  for (const r of readings.values()) {
    if (r.valueSha256 === undefined) continue;
    total++;
    counts.set(r.valueSha256, (counts.get(r.valueSha256) ?? 0) + 1);
  }
  for (const [h, n] of counts) if (n >= 2 && n * 2 > total) return h;
  return undefined;
}

function byTargets(
  r: Reading,
  majority: string | undefined,
): Pick<AuditRow, 'state' | 'against' | 'message'> {
  if (r.state === 'unknown') return { state: 'Unknown', against: 'none', message: r.error ?? '' };
  if (r.state === 'missing') {
    return { state: 'Missing', against: 'none', message: 'does not exist on the platform' };
  }
  if (r.state === 'deleted') {
    return { state: 'Deleted', against: 'none', message: 'is deleted (recoverable)' };
  }
  if (majority === undefined) {
    return {
      state: 'Unknown',
      against: 'none',
      message: 'no value store to compare with, and no two targets agree on one value',
    };
  }
  return r.valueSha256 === majority
    ? { state: 'InSync', against: 'targets', message: 'holds the value most targets hold' }
    : {
        state: 'Drifted',
        against: 'targets',
        message: 'holds a value the other targets do not (the value store was not read)',
      };
}
