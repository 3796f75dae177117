/**
 * The composite's status and custom conditions. Crossplane ignores Ready and Synced from a
 * function, so the function reports through its own condition types. Messages carry no
 * timestamps and lists are sorted, so an unchanged state gives an unchanged status.
 */
import { Status, Target as ConditionTarget } from '@crossplane-org/function-sdk-typescript';
import type { Condition } from '@crossplane-org/function-sdk-typescript';

import type { Platform } from './spec.js';
import type { Judgement } from './targets/target.js';

export const CONDITION_VALUE_STORED = 'ValueStored';
export const CONDITION_TARGETS_READY = 'TargetsReady';

export interface TargetStatus {
  name: string;
  platform: Platform;
  externalName: string;
  desiredVersion: number;
  heldVersion: number;
  evidence: string;
  ready: boolean;
  synced: boolean;
  message: string;
}

export function targetStatus(
  name: string,
  platform: Platform,
  externalName: string,
  desiredVersion: number,
  j: Judgement,
): TargetStatus {
  return {
    name,
    platform,
    externalName,
    desiredVersion,
    heldVersion: j.heldVersion,
    evidence: j.evidence,
    ready: j.ready,
    synced: j.synced,
    message: j.message,
  };
}

export interface CompositeStatus {
  version: number;
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
  const stored = storeObserved
    ? cond(
        CONDITION_VALUE_STORED,
        true,
        'Stored',
        `version ${v} is stored in Secret ${status.store.name}`,
      )
    : cond(
        CONDITION_VALUE_STORED,
        false,
        'Storing',
        `waiting for Secret ${status.store.name} to store version ${v}`,
      );
  const waiting = status.targets
    .filter((t) => !t.ready)
    .map((t) => t.name)
    .sort();
  const total = status.targets.length;
  const holding = total - waiting.length;
  const targets =
    waiting.length === 0
      ? cond(
          CONDITION_TARGETS_READY,
          true,
          'AllTargetsReady',
          `${total} of ${total} targets hold version ${v}`,
        )
      : cond(
          CONDITION_TARGETS_READY,
          false,
          'TargetsNotReady',
          `${holding} of ${total} targets hold version ${v}; waiting for: ${waiting.join(', ')}`,
        );
  return [stored, targets];
}
