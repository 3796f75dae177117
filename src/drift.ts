/**
 * Per-target drift judgement from observed evidence, never from Synced alone. AWS and
 * Kubernetes show drift directly (AWSCURRENT moved off our version; data that is no stored
 * version); Azure and Vault show it as a version that moved without a change of ours, compared
 * with the evidence the last call recorded in the composite's status.
 */
import { classify } from './errors.js';
import type { Observation } from './targets/target.js';

export type DriftState = 'InSync' | 'Pending' | 'Drifted' | 'Healing' | 'Failed';

export interface DriftStatus {
  state: DriftState;
  reason: string;
  message: string;
  since: string;
  /** The version evidence at which the drift was seen (for moved versions). */
  evidence?: string;
}

export interface DriftInput {
  enforce: boolean;
  observation: Observation;
  desiredVersion: number;
  previous?: { heldVersion: number; evidence: string; generation?: number; drift?: DriftStatus };
  now: Date;
}

/** Upjet providers re-read every managed resource at least this often by default. */
const PROVIDER_POLL_MS = 10 * 60_000;

/**
 * When the judgement of an unchanged observation could next change with time alone: a moved
 * version under Enforce is presumed healed one provider poll after it was seen.
 */
export function driftChangesAt(prev: DriftStatus | undefined): number | undefined {
  if (prev === undefined || prev.reason !== 'VersionMoved' || prev.state === 'InSync') {
    return undefined;
  }
  const since = Date.parse(prev.since);
  return Number.isNaN(since) ? undefined : since + PROVIDER_POLL_MS;
}

export function judgeDrift(i: DriftInput): { drift: DriftStatus; fresh: boolean } {
  const o = i.observation;
  const prev = i.previous?.drift;
  const make = (state: DriftState, reason: string, message: string, evidence?: string) => {
    const kept = prev !== undefined && prev.state === state && prev.reason === reason;
    const drift: DriftStatus = {
      state,
      reason,
      message,
      since: kept ? prev.since : i.now.toISOString(),
      ...(evidence === undefined ? {} : { evidence }),
    };
    const bad = state === 'Drifted' || state === 'Healing' || state === 'Failed';
    return { drift, fresh: bad && !kept };
  };
  const fixing = i.enforce ? 'Healing' : 'Drifted';
  const how = i.enforce
    ? 'the provider writes the declared value again'
    : 'not overwritten (drift policy Alert)';

  if (o.error !== '') {
    const known = classify(o.error);
    if (known?.transient === true) {
      // A transient error neither starts nor ends a drift.
      if (prev !== undefined) return { drift: prev, fresh: false };
      return make('Pending', known.reason, `${known.remedy}: ${o.error}`);
    }
    if (known !== undefined) return make('Failed', known.reason, `${known.remedy}: ${o.error}`);
    return make('Failed', 'ProviderError', o.error);
  }
  if (o.signal === 'CurrentLabelMoved') {
    return make(
      fixing,
      o.signal,
      `AWSCURRENT was moved off the version this composite wrote (${o.evidence}); ${how}`,
    );
  }
  if (o.signal === 'DataDiffers') {
    return make(fixing, o.signal, `the Secret's data is not a stored version; ${how}`);
  }
  if (!o.written || o.heldVersion !== i.desiredVersion) {
    const why = o.problem !== '' ? o.problem : `moving to version ${i.desiredVersion}`;
    return make('Pending', 'Moving', why);
  }

  const wasMoved = prev?.reason === 'VersionMoved' && prev.state !== 'InSync';
  if (wasMoved && prev.evidence === o.evidence) {
    const waited = i.now.getTime() - Date.parse(prev.since);
    if (i.enforce && waited >= PROVIDER_POLL_MS && o.healthy) {
      return make(
        'InSync',
        'PresumedHealed',
        `the provider has re-read the secret since version ${o.evidence} appeared and reports ` +
          'it in sync',
      );
    }
    return { drift: prev, fresh: false };
  }
  if (wasMoved && i.enforce) {
    return make('InSync', 'Healed', `the provider wrote the declared value again (${o.evidence})`);
  }
  // Evidence recorded for another version or another generation (a spec change of ours, such
  // as a new contentType, makes the provider write) is no baseline.
  const p = i.previous;
  const comparable =
    p !== undefined && p.heldVersion === o.heldVersion && p.generation === o.generation;
  const base = comparable ? p.evidence : '';
  if (wasMoved || (base !== '' && o.evidence !== '' && o.evidence !== base)) {
    const from = wasMoved ? (prev.evidence ?? base) : base;
    return make(
      fixing,
      'VersionMoved',
      `the platform's version moved from ${from} to ${o.evidence} without a change from this ` +
        `composite; ${how}`,
      o.evidence,
    );
  }
  return make('InSync', 'InSync', `holds version ${i.desiredVersion}`);
}
