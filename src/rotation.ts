/**
 * The rotation state machine. One pure step from (policy, stored state, what each target is
 * observed to hold, now) to the stored state to write, the version each target should hold and
 * the phase to report. The store carries the whole state, so a lost composite status loses
 * nothing; values are only ever added under a fresh version number, never changed.
 */
import { createHash } from 'node:crypto';

import { parseTime } from './duration.js';
import type { StoredValue } from './store.js';

export type Phase = 'Idle' | 'Staged' | 'Canary' | 'Propagating' | 'RollingBack' | 'Failed';

export interface Policy {
  /** Scheduled period in ms; undefined when only tokens and source changes rotate. */
  every?: number;
  strategy: 'Simultaneous' | 'Canary';
  canary?: string;
  /** How long a rotation may take, in ms. */
  deadline: number;
  onFailure: 'Hold' | 'Rollback';
  /** Deterministic offset added to the schedule, in ms. */
  jitter: number;
  /** Drift policy Alert: nothing may be overwritten, so nothing rotates. */
  frozen: boolean;
  /** The target whose platform rotates the value itself; only its new values start rotations. */
  origin?: string;
}

export interface TargetState {
  name: string;
  /** The version the observed state proves the target holds; 0 when none. */
  held: number;
  /** The version its observed value-holding resource references, proven or not. */
  referenced?: number;
  /** What is wrong with it, in the provider's words; empty when nothing. */
  problem: string;
}

export interface StepInput {
  policy: Policy;
  store: StoredValue;
  targets: TargetState[];
  /** The composite's rotate annotation, if set. */
  token?: string;
  /** Makes the value of a new version: generated, or the fromSecret source. */
  newValue: () => Buffer;
  /** Why a rotation is wanted that no schedule or token asks for (a changed source). */
  sourceChanged: boolean;
  /** What the source is, for events: the fromSecret source, or the origin target. */
  sourceLabel?: string;
  /** Fingerprint of the fromSecret source's value, to recognise one whose rotation failed. */
  sourceFingerprint?: string;
  /** The phase the last call reported, so a failure is announced once, not on every call. */
  previousPhase?: string;
  now: Date;
}

export interface Event {
  warning: boolean;
  reason: string;
  message: string;
}

export interface StepOutput {
  store: StoredValue;
  /** The version each target should hold now, by target name. */
  desired: Map<string, number>;
  phase: Phase;
  reason: string;
  /** The version being rolled out, or the committed one when no rotation is in progress. */
  version: number;
  previousVersion?: number;
  startedAt?: string;
  nextRotationAt?: string;
  events: Event[];
  /** When the next transition can happen without anything else changing. */
  wakeAt?: number;
}

/** Up to a tenth of the period, at most an hour, the same for the same composite every time. */
/** A hash of a value, kept in the store next to the values themselves, never shown. */
export function fingerprint(value: Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Version numbers far beyond the current one come from a hand-edited store; ignore them. */
const MAX_VERSION_STEP = 100;

export function jitterFor(identity: string, every: number | undefined): number {
  if (every === undefined) return 0;
  const spread = Math.min(every / 10, 3_600_000);
  const n = createHash('sha256').update(identity).digest().readUInt32BE(0);
  return Math.floor((n / 0x1_0000_0000) * spread);
}

function all(targets: TargetState[], v: number): Map<string, number> {
  return new Map(targets.map((t) => [t.name, v]));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function dueAt(policy: Policy, store: StoredValue): number | undefined {
  if (policy.every === undefined) return undefined;
  const base = Math.max(parseTime(store.rotatedAt) ?? 0, parseTime(store.failed?.at) ?? 0);
  return base + policy.every + policy.jitter;
}

function failures(targets: TargetState[], desired: Map<string, number>): string {
  const lagging = targets.filter((t) => t.held !== desired.get(t.name));
  return lagging
    .map((t) => `${t.name}: ${t.problem === '' ? 'has not reported the new version' : t.problem}`)
    .join('; ');
}

export function step(input: StepInput): StepOutput {
  const { policy, targets, now } = input;
  const st: StoredValue = { ...input.store, values: new Map(input.store.values) };
  const events: Event[] = [];
  const from = st.version;
  const newToken = input.token !== undefined && input.token !== '' && input.token !== st.token;
  const plausible = (v: number) => v > from && v <= from + MAX_VERSION_STEP;
  // A source whose rotation already failed is not retried on its own; a new token retries it.
  const sourceChanged =
    input.sourceChanged &&
    (st.failed?.fingerprint === undefined || st.failed.fingerprint !== input.sourceFingerprint);

  const source = input.sourceLabel ?? 'the fromSecret source';
  if (st.rotation === undefined && policy.frozen && (newToken || sourceChanged)) {
    if (newToken) st.token = input.token ?? '';
    events.push({
      warning: true,
      reason: 'RotationRefused',
      message:
        `${newToken ? 'the rotate annotation' : `the changed value of ${source}`} is ignored: ` +
        'drift policy Alert never overwrites a target',
    });
  } else if (st.rotation === undefined && newToken && policy.origin !== undefined) {
    // Our own value would overwrite the one the origin's platform rotates and uses.
    st.token = input.token ?? '';
    events.push({
      warning: true,
      reason: 'RotationRefused',
      message:
        `the rotate annotation is ignored: the value comes from origin target ${policy.origin}; ` +
        'rotate it there',
    });
  }
  const tokenRotates = newToken && policy.origin === undefined;

  if (st.rotation === undefined) {
    const due = policy.frozen ? undefined : dueAt(policy, st);
    let trigger: string | undefined;
    if (policy.frozen) trigger = undefined;
    else if (tokenRotates) trigger = 'requested by the rotate annotation';
    else if (sourceChanged) trigger = `${source} changed`;
    else if (due !== undefined && now.getTime() >= due) trigger = 'the rotation period elapsed';
    if (trigger !== undefined) {
      // Never reuse a number: a rolled-back version's value must not come back under it.
      const used = [st.failed?.version ?? 0, ...st.values.keys()].filter(plausible);
      const to = Math.max(from, ...used) + 1;
      st.values.set(to, input.newValue());
      st.rotation = { to, startedAt: now.toISOString() };
      if (tokenRotates) st.token = input.token ?? '';
      events.push({
        warning: false,
        reason: 'RotationStarted',
        message: `version ${to} stored; ${trigger}`,
      });
      return {
        store: st,
        desired: all(targets, from),
        phase: 'Staged',
        reason: `version ${to} is stored; no target moves until the store holds it`,
        version: to,
        previousVersion: from,
        startedAt: st.rotation.startedAt,
        events,
      };
    }
    const failedRecently =
      st.failed !== undefined && (parseTime(st.failed.at) ?? 0) >= (parseTime(st.rotatedAt) ?? 0);
    return {
      store: st,
      desired: all(targets, from),
      phase: failedRecently ? 'Failed' : 'Idle',
      reason:
        failedRecently && st.failed !== undefined
          ? `the rotation to version ${st.failed.version} failed and was rolled back to ` +
            `version ${from}`
          : `every target should hold version ${from}`,
      version: from,
      nextRotationAt: due === undefined ? undefined : iso(due),
      events,
      wakeAt: due,
    };
  }

  const to = st.rotation.to;
  let started = parseTime(st.rotation.startedAt) ?? now.getTime();
  if (started > now.getTime()) {
    // A start in the future (a hand-edited store) would keep the deadline out of reach: the
    // rotation counts as started now, and the store says so from here on.
    st.rotation = { to: st.rotation.to, startedAt: now.toISOString() };
    started = now.getTime();
  }
  if (newToken) {
    st.token = input.token ?? '';
    if (now.getTime() >= started + policy.deadline) {
      // An operator asks to try again: same value, fresh deadline.
      st.rotation = { to, startedAt: now.toISOString() };
      started = now.getTime();
      events.push({
        warning: false,
        reason: 'RotationRestarted',
        message: `the rotation to version ${to} starts again with the same value`,
      });
    }
  }
  const deadlineAt = started + policy.deadline;
  const base = { version: to, previousVersion: from, startedAt: st.rotation.startedAt };

  if (targets.every((t) => t.held === to)) {
    st.version = to;
    st.rotatedAt = st.rotation.startedAt;
    st.rotation = undefined;
    st.failed = undefined;
    for (const v of [...st.values.keys()]) if (v !== to) st.values.delete(v);
    const due = dueAt(policy, st);
    events.push({
      warning: false,
      reason: 'RotationCompleted',
      message: `every target holds version ${to}; version ${from} is removed from the store`,
    });
    return {
      store: st,
      desired: all(targets, to),
      phase: 'Idle',
      reason: `every target should hold version ${to}`,
      version: to,
      nextRotationAt: due === undefined ? undefined : iso(due),
      events,
      wakeAt: due,
    };
  }

  const canary =
    policy.strategy === 'Canary' ? targets.find((t) => t.name === policy.canary) : undefined;
  // Once any other target has been pointed at the new version, the canary stage is over: a
  // canary that later reports a transient error must not pull the others back.
  const released = targets.some((t) => t !== canary && t.referenced === to);
  const canaryFirst = canary !== undefined && canary.held !== to && !released;
  // What the rotation asks of each target now: the canary alone first, then everyone.
  const moving = canaryFirst
    ? new Map(targets.map((t) => [t.name, t === canary ? to : from]))
    : all(targets, to);

  if (now.getTime() >= deadlineAt) {
    if (policy.onFailure === 'Rollback') {
      const desired = all(targets, from);
      if (targets.every((t) => t.held === from)) {
        st.values.delete(to);
        st.rotation = undefined;
        st.failed = {
          version: to,
          at: now.toISOString(),
          ...(input.sourceFingerprint === undefined
            ? {}
            : { fingerprint: fingerprint(input.store.values.get(to) ?? Buffer.alloc(0)) }),
        };
        events.push({
          warning: true,
          reason: 'RotationRolledBack',
          message: `every target holds version ${from} again; version ${to} is discarded`,
        });
        const due = dueAt(policy, st);
        return {
          store: st,
          desired,
          phase: 'Failed',
          reason: `the rotation to version ${to} failed and was rolled back to version ${from}`,
          version: from,
          nextRotationAt: due === undefined ? undefined : iso(due),
          events,
          wakeAt: due,
        };
      }
      const why = failures(targets, moving);
      if (input.previousPhase !== 'RollingBack') {
        events.push({
          warning: true,
          reason: 'RotationFailed',
          message: `the rotation to version ${to} passed its deadline; rolling back: ${why}`,
        });
      }
      return { ...base, store: st, desired, phase: 'RollingBack', reason: why, events };
    }
    // Hold: nothing moves further; each target stays on what it was last pointed at.
    const desired = new Map(
      targets.map((t) => [
        t.name,
        t.referenced === to || t.referenced === from ? t.referenced : from,
      ]),
    );
    const why = failures(targets, moving);
    if (input.previousPhase !== 'Failed') {
      events.push({
        warning: true,
        reason: 'RotationFailed',
        message:
          `the rotation to version ${to} passed its deadline and is held: ${why}; set a new ` +
          'rotate annotation to retry with the same value',
      });
    }
    return { ...base, store: st, desired, phase: 'Failed', reason: why, events };
  }

  return {
    ...base,
    store: st,
    desired: moving,
    phase: canaryFirst ? 'Canary' : 'Propagating',
    reason: `${canaryFirst ? 'waiting for canary' : 'waiting for'} ${failures(targets, moving)}`,
    events,
    wakeAt: deadlineAt,
  };
}
