/**
 * The composite's status and custom conditions. Crossplane ignores Ready and Synced from a
 * function, so the function reports through its own condition types. Messages carry no
 * timestamps and lists are sorted, so an unchanged state gives an unchanged status.
 */
import { Status, Target as ConditionTarget } from '@crossplane-org/function-sdk-typescript';
import type { Condition } from '@crossplane-org/function-sdk-typescript';

import type { DriftState, DriftStatus } from './drift.js';
import type { LiveStatus } from './livejudge.js';
import type { Phase } from './rotation.js';
import type { Platform } from './spec.js';
import type { Observation } from './targets/target.js';
import { truncate, type Redactor } from './value.js';

export const CONDITION_VALUE_STORED = 'ValueStored';
export const CONDITION_TARGETS_READY = 'TargetsReady';
export const CONDITION_ROTATION_HEALTHY = 'RotationHealthy';
export const CONDITION_IN_SYNC = 'TargetsInSync';

/** Worst first: the condition's reason names the worst state any target is in. */
const BAD: DriftState[] = ['Failed', 'Drifted', 'Healing'];

export interface TargetStatus {
  name: string;
  platform: Platform;
  externalName: string;
  desiredVersion: number;
  heldVersion: number;
  evidence: string;
  /** Generation of the value-holding resource when the evidence was recorded. */
  generation?: number;
  ready: boolean;
  synced: boolean;
  message: string;
  drift: DriftStatus;
  live?: LiveStatus;
}

export function targetStatus(
  t: { name: string; platform: Platform; externalName: string; desiredVersion: number },
  o: Observation,
  drift: DriftStatus,
  redact: Redactor,
): TargetStatus {
  const ready = o.healthy && o.heldVersion === t.desiredVersion;
  let message = `holds version ${t.desiredVersion}`;
  if (o.problem !== '') message = o.problem;
  else if (o.heldVersion > 0 && o.heldVersion !== t.desiredVersion) {
    message = `holds version ${o.heldVersion}, moving to ${t.desiredVersion}`;
  } else if (!ready) message = 'waiting for the provider to report the value written';
  return {
    ...t,
    heldVersion: o.heldVersion,
    evidence: truncate(redact.scrub(o.evidence)),
    ...(o.generation === undefined ? {} : { generation: o.generation }),
    ready,
    synced: o.synced,
    message: truncate(redact.scrub(message)),
    drift: {
      ...drift,
      message: truncate(redact.scrub(drift.message)),
      ...(drift.evidence === undefined ? {} : { evidence: truncate(redact.scrub(drift.evidence)) }),
    },
  };
}

export interface RotationStatus {
  phase: Phase;
  version: number;
  previousVersion?: number;
  since: string;
  startedAt?: string;
  nextRotationAt?: string;
  reason: string;
}

export interface CompositeStatus {
  version: number;
  rotation: RotationStatus;
  store: { name: string; versions: number[] };
  targets: TargetStatus[];
}

function cond(type: string, ok: boolean, reason: string, message: string): Condition {
  return {
    type,
    status: ok ? Status.STATUS_CONDITION_TRUE : Status.STATUS_CONDITION_FALSE,
    reason,
    message,
    target: ConditionTarget.TARGET_COMPOSITE,
  };
}

export function conditions(status: CompositeStatus, storeObserved: boolean): Condition[] {
  const v = status.version;
  const store = status.store.name;
  const stored = storeObserved
    ? cond(CONDITION_VALUE_STORED, true, 'Stored', `version ${v} is stored in Secret ${store}`)
    : cond(
        CONDITION_VALUE_STORED,
        false,
        'Storing',
        `waiting for Secret ${store} to store version ${v}`,
      );
  const waiting = status.targets
    .filter((t) => !t.ready)
    .map((t) => t.name)
    .sort();
  const total = status.targets.length;
  const wanted = new Set(status.targets.map((t) => t.desiredVersion));
  const what = wanted.size === 1 ? `version ${[...wanted].join('')}` : 'the version they should';
  const holding = `${total - waiting.length} of ${total} targets hold ${what}`;
  const targets =
    waiting.length === 0
      ? cond(CONDITION_TARGETS_READY, true, 'AllTargetsReady', holding)
      : cond(
          CONDITION_TARGETS_READY,
          false,
          'TargetsNotReady',
          `${holding}; waiting for: ${waiting.join(', ')}`,
        );
  const r = status.rotation;
  const healthy = r.phase !== 'Failed' && r.phase !== 'RollingBack';
  const rotation = cond(CONDITION_ROTATION_HEALTHY, healthy, r.phase, r.reason);
  const worst = BAD.find((b) => status.targets.some((t) => t.drift.state === b));
  const off = status.targets
    .filter((t) => BAD.includes(t.drift.state))
    .map((t) => `${t.name} (${t.drift.reason})`)
    .sort();
  const inSync =
    worst === undefined
      ? cond(CONDITION_IN_SYNC, true, 'InSync', 'no target has drifted or failed')
      : cond(CONDITION_IN_SYNC, false, worst, `${worst}: ${off.join(', ')}`);
  return [stored, targets, rotation, inSync];
}
