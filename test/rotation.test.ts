/**
 * Every transition of the rotation state machine, driven through RunFunction with simulated
 * providers: what each call emits, what the status says, and what the store keeps.
 */
import { describe, expect, it } from '@jest/globals';
import {
  RunFunctionResponse,
  Severity,
  type RunFunctionResponse as Response,
} from '@crossplane-org/function-sdk-typescript';

import { runFunction } from '../src/function.js';
import { ANNOTATION_ROTATE } from '../src/names.js';
import type { Obj } from '../src/observe.js';
import { SOURCE_REQUIREMENT } from '../src/resolve.js';
import { jitterFor } from '../src/rotation.js';
import { at, Cluster, HOUR, MINUTE, plus } from './cluster.js';
import {
  compositionInput,
  example,
  loadDoc,
  request,
  ROOT,
  testDeps,
  onpremDocument,
} from './helpers.js';

const DOC1 = onpremDocument(1);
const DOC2 = onpremDocument(2);
const T0 = at('2026-12-01T10:00:00.000Z');
const EVERY = 720 * HOUR;
const JITTER = jitterFor('team-a/db-password', EVERY);
const DUE = plus(T0, EVERY + JITTER);
const CANARY_KEY = 'aws-prod-aws-version';
const DENIED = 'AccessDeniedException: not authorized to perform secretsmanager:PutSecretValue';

function withRotation(rotation: Obj): Obj {
  const xr = example('rotation-canary');
  return { ...xr, spec: { ...(xr.spec as Obj), rotation } };
}

/** A composite created at T0 whose four targets all hold version 1. */
function converged(xr: Obj = example('rotation-canary')): Cluster {
  const c = new Cluster(xr);
  c.reconcile(T0);
  c.reconcile(plus(T0, MINUTE));
  expect(c.status().targets.every((t) => t.ready && t.heldVersion === 1)).toBe(true);
  return c;
}

function events(rsp: Response): [string, string | undefined][] {
  return rsp.results.map((r) => [
    r.severity === Severity.SEVERITY_WARNING ? 'Warning' : 'Normal',
    r.reason,
  ]);
}

const everyAt = (c: Cluster, v: string) =>
  Object.values(c.pointedAt()).every((k) => k.startsWith(v));

describe('scheduling', () => {
  it('not due: idle, with the next rotation time and the default TTL', () => {
    const c = converged();
    const rsp = c.reconcile(plus(T0, HOUR));
    expect(c.status().rotation).toMatchObject({
      phase: 'Idle',
      version: 1,
      nextRotationAt: DUE.toISOString(),
    });
    expect(rsp.meta?.ttl?.seconds).toBe(60);
    expect(rsp.results).toEqual([]);
    expect(Object.keys(c.storeData()).filter((k) => /^v\d+$/.test(k))).toEqual(['v1']);
  });

  it('asks to be called exactly when the rotation becomes due', () => {
    const c = converged();
    const rsp = c.reconcile(plus(DUE, -10_000));
    expect(rsp.meta?.ttl?.seconds).toBe(10);
  });

  it('gives each composite its own jitter, the same on every call', () => {
    expect(jitterFor('team-a/db-password', EVERY)).toBe(JITTER);
    expect(jitterFor('team-b/db-password', EVERY)).not.toBe(JITTER);
    expect(JITTER).toBeLessThan(HOUR);
  });

  it('due: stores the new version before pointing any target at it', () => {
    const c = converged();
    const rsp = c.reconcile(DUE, { apply: false });
    expect(c.status().rotation).toMatchObject({ phase: 'Staged', version: 2 });
    expect(Object.keys(c.storeData())).toEqual(expect.arrayContaining(['v1', 'v2', DOC1, DOC2]));
    expect(everyAt(c, 'v1')).toBe(true);
    expect(events(rsp)).toEqual([['Normal', 'RotationStarted']]);
  });
});

describe('a canary rotation', () => {
  it('moves the canary first, then the others, and keeps only the new version', () => {
    const c = converged();
    c.reconcile(DUE);
    const staged = c.storeData().v2;

    c.reconcile(plus(DUE, MINUTE));
    expect(c.status().rotation.phase).toBe('Canary');
    expect(c.pointedAt()).toEqual({
      [CANARY_KEY]: 'v2',
      'azure-prod-azure-secret': 'v1',
      'vault-onprem-vault-secret': DOC1,
    });

    c.reconcile(plus(DUE, 2 * MINUTE));
    expect(c.status().rotation.phase).toBe('Propagating');
    expect(everyAt(c, 'v2')).toBe(true);

    const rsp = c.reconcile(plus(DUE, 3 * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Idle', version: 2 });
    expect(c.status().version).toBe(2);
    expect(c.status().store.versions).toEqual([2]);
    expect(c.storeData().v2).toBe(staged);
    expect(c.storeData().v1).toBeUndefined();
    expect(events(rsp)).toEqual([['Normal', 'RotationCompleted']]);
    expect(c.status().targets.every((t) => t.ready && t.heldVersion === 2)).toBe(true);
  });

  it('does not count a target as moved until its version evidence moves', () => {
    const c = converged();
    c.reconcile(DUE);
    c.reconcile(plus(DUE, MINUTE));
    // The provider reports Ready and Synced for the new generation but the old versionId.
    const canary = c.observed[CANARY_KEY] as { status: { atProvider: Obj } };
    canary.status.atProvider = { versionId: `aws-${CANARY_KEY}-g1`, versionStages: ['AWSCURRENT'] };
    c.reconcile(plus(DUE, 2 * MINUTE), { apply: false });
    expect(c.status().rotation.phase).toBe('Canary');
    const target = c.status().targets.find((t) => t.name === 'aws-prod');
    expect(target).toMatchObject({ heldVersion: 1, ready: false });
  });

  it('fails at the deadline and rolls back the targets that moved', () => {
    const c = converged();
    c.reconcile(DUE);
    const failing = { failing: new Map([[CANARY_KEY, DENIED]]) };
    c.reconcile(plus(DUE, MINUTE), failing);
    const waiting = c.reconcile(plus(DUE, 10 * MINUTE), failing);
    expect(c.status().rotation.phase).toBe('Canary');
    expect(c.status().rotation.reason).toContain(DENIED);
    // The failure is reported once, when first seen, and not again on later calls.
    expect(events(waiting)).toEqual([['Warning', 'TargetFailed']]);
    expect(events(c.reconcile(plus(DUE, 11 * MINUTE), failing))).toEqual([]);
    expect(waiting.meta?.ttl?.seconds).toBe(60);

    // The deadline is 30m after the rotation started at DUE.
    const failed = c.reconcile(plus(DUE, 30 * MINUTE));
    expect(c.status().rotation.phase).toBe('RollingBack');
    expect(events(failed)).toEqual([['Warning', 'RotationFailed']]);
    expect(failed.results[0]?.message).toContain(`aws-prod: SecretVersion db-password.aws-prod`);
    expect(failed.results[0]?.message).toContain(DENIED);
    expect(everyAt(c, 'v1')).toBe(true);

    const done = c.reconcile(plus(DUE, 31 * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Failed', version: 1 });
    expect(c.status().store.versions).toEqual([1]);
    expect(events(done)).toEqual([['Warning', 'RotationRolledBack']]);
    const healthy = done.conditions.find((k) => k.type === 'RotationHealthy');
    expect(healthy).toMatchObject({ reason: 'Failed' });

    // The next attempt waits a full period from the failure, with a version number of its own.
    c.reconcile(plus(DUE, 32 * MINUTE));
    expect(c.status().rotation.nextRotationAt).toBe(
      plus(DUE, 31 * MINUTE + EVERY + JITTER).toISOString(),
    );
    c.annotate(ANNOTATION_ROTATE, 'retry-1');
    c.reconcile(plus(DUE, 40 * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Staged', version: 3 });
  });

  it('holds at the deadline, then retries with the same value on a new token', () => {
    const c = converged(
      withRotation({ every: '720h', strategy: 'Canary', canary: 'aws-prod', deadline: '30m' }),
    );
    c.reconcile(DUE);
    const staged = c.storeData().v2;
    const failing = { failing: new Map([[CANARY_KEY, DENIED]]) };
    c.reconcile(plus(DUE, MINUTE), failing);
    const held = c.reconcile(plus(DUE, 30 * MINUTE), failing);
    expect(c.status().rotation.phase).toBe('Failed');
    expect(events(held)).toEqual([
      ['Warning', 'TargetFailed'],
      ['Warning', 'RotationFailed'],
    ]);
    expect(c.pointedAt()[CANARY_KEY]).toBe('v2');
    expect(c.pointedAt()['azure-prod-azure-secret']).toBe('v1');
    expect(c.status().store.versions).toEqual([1, 2]);

    c.annotate(ANNOTATION_ROTATE, 'operator-fixed-iam');
    const restarted = c.reconcile(plus(DUE, 2 * HOUR));
    expect(events(restarted)).toEqual([['Normal', 'RotationRestarted']]);
    c.reconcile(plus(DUE, 2 * HOUR + MINUTE));
    c.reconcile(plus(DUE, 2 * HOUR + 2 * MINUTE));
    c.reconcile(plus(DUE, 2 * HOUR + 3 * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Idle', version: 2 });
    expect(c.storeData().v2).toBe(staged);
  });
});

describe('a simultaneous rotation', () => {
  it('moves all targets together and retries a failing one with the same value', () => {
    const c = converged(withRotation({ every: '720h', deadline: '30m' }));
    c.reconcile(DUE);
    const staged = c.storeData()[DOC2];
    const failing = { failing: new Map([['vault-onprem-vault-secret', 'permission denied']]) };
    c.reconcile(plus(DUE, MINUTE), failing);
    expect(everyAt(c, 'v2')).toBe(true);
    c.reconcile(plus(DUE, 2 * MINUTE), failing);
    expect(c.status().rotation.phase).toBe('Propagating');
    const ready = c
      .status()
      .targets.filter((t) => t.ready)
      .map((t) => t.name);
    expect(ready).toEqual(['aws-prod', 'azure-prod', 'pods']);
    expect(c.status().rotation.reason).toBe(
      'waiting for vault-onprem: SecretV2 db-password.vault-onprem: Synced is False ' +
        '(ReconcileError): permission denied',
    );

    c.reconcile(plus(DUE, 30 * MINUTE), failing);
    expect(c.status().rotation.phase).toBe('Failed');
    expect(c.pointedAt()['vault-onprem-vault-secret']).toBe(DOC2);
    expect(c.storeData()[DOC2]).toBe(staged);
  });
});

describe('manual rotation', () => {
  it('a new token starts one rotation; the same token never starts a second', () => {
    const c = converged();
    c.annotate(ANNOTATION_ROTATE, 'ticket-42');
    const rsp = c.reconcile(plus(T0, 2 * HOUR));
    expect(events(rsp)).toEqual([['Normal', 'RotationStarted']]);
    for (let i = 1; i <= 3; i++) c.reconcile(plus(T0, 2 * HOUR + i * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Idle', version: 2 });

    const again = c.reconcile(plus(T0, 3 * HOUR));
    expect(again.results).toEqual([]);
    expect(c.status().rotation).toMatchObject({ phase: 'Idle', version: 2 });

    c.annotate(ANNOTATION_ROTATE, 'ticket-43');
    c.reconcile(plus(T0, 4 * HOUR));
    expect(c.status().rotation).toMatchObject({ phase: 'Staged', version: 3 });
  });

  it('the token present when the composite is created does not rotate it', () => {
    const c = converged();
    c.reconcile(plus(T0, 2 * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Idle', version: 1 });
  });
});

describe('resuming', () => {
  it('continues from the store when the composite status is lost mid-rotation', () => {
    const c = converged();
    c.reconcile(DUE);
    c.reconcile(plus(DUE, MINUTE));
    const staged = c.storeData().v2;
    c.forgetStatus();
    const rsp = c.reconcile(plus(DUE, 2 * MINUTE));
    expect(rsp.results).toEqual([]);
    expect(['Canary', 'Propagating']).toContain(c.status().rotation.phase);
    expect(c.storeData().v2).toBe(staged);
  });

  it('gives byte-identical responses for the same input mid-rotation', () => {
    const c = converged();
    c.reconcile(DUE);
    c.reconcile(plus(DUE, MINUTE));
    const req = request(c.xr, { observed: c.observed });
    const deps = testDeps(3);
    deps.now = () => plus(DUE, 2 * MINUTE);
    const a = RunFunctionResponse.encode(runFunction(req, deps)).finish();
    const b = RunFunctionResponse.encode(runFunction(req, deps)).finish();
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});

describe('fromSecret', () => {
  it('a new source value is rotated in through the same machine', () => {
    const source = loadDoc(`${ROOT}examples/required/licence.yaml`);
    const c = new Cluster(example('from-secret'));
    c.required = { [SOURCE_REQUIREMENT]: [source] };
    c.reconcile(T0);
    c.reconcile(plus(T0, MINUTE));
    const changed = structuredClone(source) as { data: Record<string, string> };
    changed.data.licence = Buffer.from('LICENCE-0001-RENEWED').toString('base64');
    c.required = { [SOURCE_REQUIREMENT]: [changed] };
    const rsp = c.reconcile(plus(T0, HOUR));
    expect(events(rsp)).toEqual([['Normal', 'RotationStarted']]);
    expect(Buffer.from(c.storeData().v2 ?? '', 'base64').toString()).toBe('LICENCE-0001-RENEWED');
    for (let i = 1; i <= 2; i++) c.reconcile(plus(T0, HOUR + i * MINUTE));
    expect(c.status().rotation).toMatchObject({ phase: 'Idle', version: 2 });
  });
});

describe('rotation settings are validated', () => {
  const fatal = (xr: Obj, input?: Obj) => {
    const rsp = runFunction(request(xr, { input }), testDeps());
    expect(rsp.desired?.resources).toEqual({});
    return rsp.results.map((r) => r.message);
  };

  it.each([
    [{ every: '30m' }, 'spec.rotation.every: must be at least 1h'],
    [
      { strategy: 'Canary', canary: 'nope' },
      'spec.rotation.canary: must name one of spec.targets when strategy is Canary',
    ],
    [{ canary: 'aws-prod' }, 'spec.rotation.canary: is only allowed with strategy Canary'],
    [{ deadline: '30s' }, 'spec.rotation.deadline: must be a duration of at least 1m'],
  ])('%j', (rotation, message) => {
    expect(fatal(withRotation(rotation))).toEqual([`invalid spec: ${message}`]);
  });

  it('refuses a period above the Composition guardrail', () => {
    const input = { ...compositionInput(), guardrails: { maxRotationPeriod: '2160h' } };
    expect(fatal(withRotation({ every: '4000h' }), input)).toEqual([
      'invalid spec: spec.rotation.every: must be at most 2160h (guardrail maxRotationPeriod ' +
        'of the Composition)',
    ]);
  });

  it('rotates at the guardrail period when the secret sets none', () => {
    const input = { ...compositionInput(), guardrails: { maxRotationPeriod: '2160h' } };
    const xr = example('all-platforms');
    const rsp = runFunction(request(xr, { input }), testDeps());
    const status = (rsp.desired?.composite?.resource as Obj).status as {
      rotation: { nextRotationAt: string };
    };
    const jitter = jitterFor('team-a/db-password', 2160 * HOUR);
    expect(status.rotation.nextRotationAt).toBe(
      new Date(Date.parse('2026-12-01T10:00:00.000Z') + 2160 * HOUR + jitter).toISOString(),
    );
  });

  it('refuses a schedule for a fromSecret value', () => {
    const xr = example('from-secret');
    const spec = { ...(xr.spec as Obj), rotation: { every: '720h' } };
    expect(fatal({ ...xr, spec })).toEqual([
      'invalid spec: spec.rotation.every: a value copied from spec.value.fromSecret cannot be ' +
        'rotated on a schedule; a change of the source starts a rotation',
    ]);
  });
});
