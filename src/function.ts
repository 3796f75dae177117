/**
 * RunFunction: one call turns the observed composite and its composed resources into the
 * desired ones. Every failure is one fatal result and an immediate return, so nothing is ever
 * half-applied; problems that do not block are warnings.
 */
import { createHash } from 'node:crypto';

import {
  Ready,
  Requirements,
  Severity,
  Target as ResultTarget,
  type Resource,
  type RunFunctionRequest,
  type RunFunctionResponse,
} from '@crossplane-org/function-sdk-typescript';
import type { Logger } from 'pino';

import { identityChanges, retiring, takeovers } from './lifecycle.js';
import {
  ANNOTATION_HEAL,
  ANNOTATION_REGENERATE,
  ANNOTATION_ROTATE,
  STORE_KEY,
  storeName,
} from './names.js';
import { getString, isObj, type Obj } from './observe.js';
import {
  checkValue,
  DEFAULT_AWS_RECOVERY_WINDOW,
  planTargets,
  rotationPolicy,
  type Plan,
  type PlannedTarget,
} from './plan.js';
import { resolveValue, SOURCE_REQUIREMENT, sourceSelector } from './resolve.js';
import { managementPolicies } from './policies.js';
import { fingerprint, step, type Policy, type StepOutput } from './rotation.js';
import { parseInput, parseSpec, type FunctionInput, type SecretSpec } from './spec.js';
import {
  conditions,
  targetStatus,
  type CompositeStatus,
  type RotationStatus,
  type TargetStatus,
} from './status.js';
import { composeStore, readStore } from './store.js';
import type { BaseContext, Composed, TargetContext } from './targets/target.js';
import { previousTargets } from './previous.js';
import { driftChangesAt, judgeDrift, type DriftStatus } from './drift.js';
import { judgeLive, versionHashes, type LiveDrift } from './livejudge.js';
import { generateValue, Redactor, truncate, type RandomInt } from './value.js';
import { readLive, type LiveDeps, type LiveReadings } from './verify/run.js';

export interface Deps {
  logger: Logger;
  random: RandomInt;
  now: () => Date;
  /** Live verification; without it, or without input.verification, nothing is read. */
  live?: LiveDeps;
  /** Work out how long each response stays right for the same request (see cacheableUntil). */
  cache?: boolean;
}

const cacheable = new WeakMap<RunFunctionResponse, number>();

/**
 * Until when (ms since the epoch) the same request bytes would get the same response bytes: 0
 * when they might not. Only a settled call qualifies (the status it writes is the one the
 * request carries, so no time of this call is recorded in it), without live readings; it lasts
 * until the next time-driven transition is within one default poll.
 */
export function cacheableUntil(rsp: RunFunctionResponse): number {
  return cacheable.get(rsp) ?? 0;
}

/** RunFunction with live verification first, when the pipeline step asks for it. */
export async function handle(req: RunFunctionRequest, deps: Deps): Promise<RunFunctionResponse> {
  const p = prepare(req);
  if (!p.ok) return p.rsp;
  const live = deps.live === undefined ? undefined : await readLive(req, p.value, deps.live);
  return compose(req, p.value, deps, live);
}

const DEFAULT_TTL_SECONDS = 60;

/** A cached response is recomputed at least this often, whatever its own validity. */
const MAX_CACHE_MS = 3_600_000;

function baseResponse(req: RunFunctionRequest): RunFunctionResponse {
  return {
    meta: { tag: req.meta?.tag ?? '', ttl: { seconds: DEFAULT_TTL_SECONDS, nanos: 0 } },
    desired: { composite: req.desired?.composite, resources: { ...req.desired?.resources } },
    results: [],
    context: req.context,
    requirements: undefined,
    conditions: [],
    output: undefined,
  };
}

function result(rsp: RunFunctionResponse, severity: Severity, reason: string, message: string) {
  rsp.results.push({ severity, message, reason, target: ResultTarget.TARGET_COMPOSITE });
}

/** Long enough for every rule a real spec can break; a hostile spec cannot flood the event. */
const MAX_FATAL = 4096;

function fatal(rsp: RunFunctionResponse, reason: string, message: string): RunFunctionResponse {
  const text = message.length <= MAX_FATAL ? message : `${message.slice(0, MAX_FATAL - 3)}...`;
  result(rsp, Severity.SEVERITY_FATAL, reason, text);
  return rsp;
}

function resource(obj: Obj, ready: boolean): Resource {
  return {
    resource: obj,
    connectionDetails: {},
    ready: ready ? Ready.READY_TRUE : Ready.READY_FALSE,
  };
}

function observedObjects(req: RunFunctionRequest): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  for (const [key, r] of Object.entries(req.observed?.resources ?? {})) {
    if (isObj(r.resource)) out[key] = r.resource;
  }
  return out;
}

/** What every call works from, once the composite, its spec and the input are valid. */
export interface Prepared {
  xr: unknown;
  name: string;
  namespace: string;
  input: FunctionInput;
  spec: SecretSpec;
  plan: Plan;
  policy: Policy;
}

/** Validates the request once; a failure is the one fatal result to answer with. */
export function prepare(
  req: RunFunctionRequest,
): { ok: true; value: Prepared } | { ok: false; rsp: RunFunctionResponse } {
  const refuse = (reason: string, message: string) => ({
    ok: false as const,
    rsp: fatal(baseResponse(req), reason, message),
  });
  const xr = req.observed?.composite?.resource;
  const name = getString(xr, 'metadata', 'name') ?? '';
  const namespace = getString(xr, 'metadata', 'namespace') ?? '';
  if (name === '' || namespace === '') {
    return refuse(
      'InvalidComposite',
      'cannot compose: the observed composite has no metadata.name or metadata.namespace',
    );
  }
  const input = parseInput(req.input);
  if (!input.ok) return refuse('InvalidInput', `invalid input: ${input.errors.join('; ')}`);
  const spec = parseSpec(isObj(xr) ? xr.spec : undefined);
  if (!spec.ok) return refuse('InvalidSpec', `invalid spec: ${spec.errors.join('; ')}`);
  const plan = planTargets(spec.value, input.value, {
    composite: { name, namespace },
    storeName: storeName(name),
  });
  const { policy, errors } = rotationPolicy(spec.value, input.value, `${namespace}/${name}`);
  const specErrors = [...plan.errors, ...errors];
  if (specErrors.length > 0) return refuse('InvalidSpec', `invalid spec: ${specErrors.join('; ')}`);
  return {
    ok: true,
    value: { xr, name, namespace, input: input.value, spec: spec.value, plan, policy },
  };
}

export function runFunction(
  req: RunFunctionRequest,
  deps: Deps,
  live?: LiveReadings,
): RunFunctionResponse {
  const p = prepare(req);
  return p.ok ? compose(req, p.value, deps, live) : p.rsp;
}

function compose(
  req: RunFunctionRequest,
  p: Prepared,
  deps: Deps,
  live: LiveReadings | undefined,
): RunFunctionResponse {
  const now = deps.now();
  const rsp = baseResponse(req);
  const { xr, name, namespace, input, spec, plan, policy } = p;
  const log = deps.logger.child({ composite: `${namespace}/${name}` });
  const store = storeName(name);

  // Requirements must be returned on every call, or Crossplane sees them change and calls again.
  const selector = sourceSelector(spec, namespace);
  if (selector !== undefined) {
    rsp.requirements = Requirements.fromPartial({ resources: { [SOURCE_REQUIREMENT]: selector } });
  }
  const required = req.requiredResources[SOURCE_REQUIREMENT];

  const previous = previousTargets(xr);
  const originName = spec.targets.find((x) => x.origin === true)?.name;
  const contexts = plan.targets.map((t) => ({
    target: t,
    ctx: {
      composite: { name, namespace },
      target: t.name,
      storeName: store,
      providerConfigRef: t.providerConfigRef,
      policies: managementPolicies(spec, t.name === originName),
      defaults: {
        awsRecoveryWindowInDays:
          input.defaults?.aws?.recoveryWindowInDays ?? DEFAULT_AWS_RECOVERY_WINDOW,
      },
    },
  }));

  const observed = observedObjects(req);
  const storeRead = readStore(observed[STORE_KEY]);
  const lost = storeRead.kind === 'absent' ? lostStore(contexts, observed, xr) : undefined;
  const token = getString(xr, 'metadata', 'annotations', ANNOTATION_ROTATE) ?? '';
  const resolution = resolveValue({
    token,
    lost,
    spec: spec,
    store: storeRead,
    storeName: store,
    namespace,
    source: {
      resolved: required !== undefined,
      items: (required?.items ?? []).map((i) => i.resource),
    },
    now,
    random: deps.random,
  });
  if (resolution.kind === 'pending') {
    log.debug('waiting for the fromSecret source to be provided');
    return rsp;
  }
  if (resolution.kind === 'fatal') return fatal(rsp, 'ValueUnavailable', resolution.message);

  // Observe every target before deciding anything: the machine moves only on evidence.
  const observations = contexts.map(({ target: t, ctx }) =>
    t.module.observe(
      t.settings,
      { ...ctx, values: resolution.store.values },
      observed,
      previous.get(t.name),
    ),
  );

  const from = resolution.store;
  const committed = from.values.get(from.version);
  const inFlight = from.rotation === undefined ? undefined : from.values.get(from.rotation.to);
  const origin = adoptFromOrigin(spec, live, from.values, input, plan.targets);
  const adopted = origin?.value;
  const fresh = resolution.source ?? adopted;
  const next = step({
    policy,
    store: from,
    targets: plan.targets.map((t, i) => ({
      name: t.name,
      held: observations[i]?.heldVersion ?? 0,
      referenced: observations[i]?.referencedVersion,
      problem: observations[i]?.problem ?? '',
    })),
    token,
    newValue: () => fresh ?? newValue(spec, deps),
    sourceFingerprint: fresh === undefined ? undefined : fingerprint(fresh),
    ...(originName === undefined ? {} : { sourceLabel: `origin target ${originName}` }),
    previousPhase: getString(xr, 'status', 'rotation', 'phase'),
    sourceChanged:
      fresh !== undefined &&
      committed !== undefined &&
      !fresh.equals(committed) &&
      (inFlight === undefined || !fresh.equals(inFlight)),
    now,
  });

  // Every value the store will hold is checked before anything is emitted.
  for (const value of next.store.values.values()) {
    const valueErrors = checkValue(value, plan.targets);
    if (valueErrors.length > 0) {
      return fatal(rsp, 'InvalidValue', `invalid value: ${valueErrors.join('; ')}`);
    }
  }

  const stored = next.store;
  const redact = new Redactor([
    ...from.values.values(),
    ...stored.values.values(),
    ...(adopted === undefined ? [] : [adopted]),
  ]);
  const hashes = live === undefined ? undefined : versionHashes(stored.values);
  const desired = rsp.desired ?? { composite: undefined, resources: {} };
  rsp.desired = desired;
  const status: CompositeStatus = {
    version: stored.version,
    rotation: rotationStatus(next, xr, now),
    store: { name: store, versions: [...stored.values.keys()].sort((a, b) => a - b) },
    targets: [],
  };

  const derived: Record<string, Buffer> = {};
  const identityErrors: string[] = [];
  const emitted: { path: string; composed: Composed }[] = [];
  const driftEvents: [string, string][] = [];
  const expiries: number[] = [];
  const liveStatuses = new Map<string, NonNullable<TargetStatus['live']>>();
  contexts.forEach(({ target: t, ctx }, i) => {
    for (const [v, value] of stored.values) {
      Object.assign(derived, t.module.derivedKeys(t.settings, t.name, v, value));
    }
    const version = next.desired.get(t.name) ?? stored.version;
    const o = observations[i];
    if (o === undefined) return;
    const composedCtx: TargetContext = { ...ctx, values: stored.values, version };
    const external = t.module.externalName(t.settings, namespace);
    const judged = judgeDrift({
      enforce: spec.drift?.policy !== 'Alert',
      observation: o,
      desiredVersion: version,
      previous: previous.get(t.name),
      now,
    });
    const changes = driftChangesAt(previous.get(t.name)?.drift);
    if (changes !== undefined) expiries.push(changes);
    const reading = live?.readings.get(t.name);
    const problem = live?.problems.get(t.name);
    let heal: string | undefined;
    if (hashes !== undefined && (reading !== undefined || problem !== undefined)) {
      const lj = judgeLive({
        reading,
        problem,
        hashes,
        desired: version,
        held: o.heldVersion,
        written: o.written,
        now,
      });
      const isOrigin = t.name === originName;
      if (isOrigin && lj.drift?.reason === 'LiveValueDiffers') {
        // The origin's own new value is the source, not drift: adopted, never overwritten.
        let message = 'a new value at the origin; adopted when the running rotation ends';
        if (origin?.refused !== undefined) {
          message = 'a new value at the origin, not adopted (see the OriginValueRefused event)';
        } else if (adopted !== undefined) {
          message = `a new value at the origin; adopted as version ${String(next.version)}`;
        }
        lj.status = { ...lj.status, state: 'Adopting', message };
        lj.drift = undefined;
      }
      if (lj.drift !== undefined && judged.drift.state !== 'Failed') {
        // The origin is never overwritten: its other drifts are reported, as under Alert.
        const enforce = spec.drift?.policy !== 'Alert' && !isOrigin;
        Object.assign(judged, liveDrift(lj.drift, enforce, previous.get(t.name)?.drift, now));
        if (enforce) heal = healToken(t.name, judged.drift.since);
      }
      liveStatuses.set(t.name, {
        ...lj.status,
        message: truncate(redact.scrub(lj.status.message)),
      });
    }
    const ts = targetStatus(
      { name: t.name, platform: t.platform, externalName: external, desiredVersion: version },
      o,
      judged.drift,
      redact,
    );
    const ls = liveStatuses.get(t.name);
    if (ls !== undefined) ts.live = ls;
    if (judged.fresh) {
      const reason = judged.drift.state === 'Failed' ? 'TargetFailed' : 'DriftDetected';
      driftEvents.push([reason, `${t.name} (${t.platform}): ${ts.drift.message}`]);
    }
    for (const c of t.module.compose(t.settings, composedCtx)) {
      if (heal !== undefined) annotate(c.resource, ANNOTATION_HEAL, heal);
      identityErrors.push(...identityChanges(t.path, c, observed[c.key]));
      emitted.push({ path: t.path, composed: c });
      const holdsValue = o.resourceHealthy[c.key] === true && ts.ready;
      desired.resources[c.key] = resource(c.resource, holdsValue);
    }
    status.targets.push(ts);
  });
  identityErrors.push(...takeovers(emitted, observed, spec.deletion?.policy === 'Orphan'));
  if (identityErrors.length > 0) {
    rsp.desired = baseResponse(req).desired;
    return fatal(rsp, 'InvalidSpec', `invalid spec: ${identityErrors.join('; ')}`);
  }

  const orphan = spec.deletion?.policy === 'Orphan';
  const keep = new Set([...Object.keys(desired.resources), STORE_KEY]);
  for (const [key, obj] of Object.entries(retiring(keep, observed, orphan))) {
    desired.resources[key] = resource(obj, true);
  }

  const storeObserved = storeRead.kind === 'ok';
  desired.resources[STORE_KEY] = resource(
    composeStore({ name: store, namespace, store: stored, derived }),
    storeObserved,
  );

  const prior = isObj(desired.composite?.resource) ? desired.composite.resource : {};
  const priorStatus = isObj(prior.status) ? prior.status : {};
  desired.composite = {
    resource: { ...prior, status: { ...priorStatus, ...status } },
    connectionDetails: desired.composite?.connectionDetails ?? {},
    ready: desired.composite?.ready ?? Ready.READY_UNSPECIFIED,
  };
  rsp.conditions = conditions(status, storeObserved);
  rsp.meta = { tag: rsp.meta?.tag ?? '', ttl: { seconds: ttlSeconds(next.wakeAt, now), nanos: 0 } };

  if (origin?.refused !== undefined) {
    result(rsp, Severity.SEVERITY_WARNING, 'OriginValueRefused', redact.scrub(origin.refused));
  }
  const originIndex = spec.targets.findIndex((x) => x.origin === true);
  const originPlatform = plan.targets[originIndex]?.platform;
  if (originPlatform !== undefined && input.verification?.[originPlatform] === undefined) {
    result(
      rsp,
      Severity.SEVERITY_WARNING,
      'CheckSpec',
      `spec.targets[${String(originIndex)}].origin: has no effect: the Composition does not ` +
        `read ${originPlatform} (input.verification.${originPlatform} is not set)`,
    );
  }
  for (const w of [...plan.warnings, ...resolution.warnings]) {
    result(rsp, Severity.SEVERITY_WARNING, 'CheckSpec', redact.scrub(w));
  }
  if (resolution.created !== undefined) {
    const how =
      resolution.created === 'generated' ? 'generated' : 'copied from spec.value.fromSecret';
    result(
      rsp,
      Severity.SEVERITY_NORMAL,
      'ValueCreated',
      `version ${stored.version} ${how} and stored in Secret ${store}`,
    );
    log.info({ version: stored.version, how: resolution.created }, 'value created');
  }
  for (const [reason, message] of driftEvents) {
    result(rsp, Severity.SEVERITY_WARNING, reason, message);
  }
  for (const e of next.events) {
    const severity = e.warning ? Severity.SEVERITY_WARNING : Severity.SEVERITY_NORMAL;
    result(rsp, severity, e.reason, redact.scrub(e.message));
    if (e.reason !== 'RotationFailed') log.info({ reason: e.reason }, 'rotation');
  }
  if (deps.cache === true && live === undefined) {
    if (next.wakeAt !== undefined) expiries.push(next.wakeAt - DEFAULT_TTL_SECONDS * 1000);
    const until = Math.min(...expiries, now.getTime() + MAX_CACHE_MS);
    if (until > now.getTime() && settled(xr, status)) cacheable.set(rsp, until);
  }
  const ready = status.targets.filter((t) => t.ready).length;
  log.debug(
    { version: stored.version, phase: next.phase, targets: status.targets.length, ready },
    'composed',
  );
  return rsp;
}

/**
 * With no store observed, a target that already shows a written value means the store was
 * lost, not that the composite is new.
 */
function lostStore(
  contexts: { target: PlannedTarget; ctx: Omit<BaseContext, 'values'> }[],
  observed: Record<string, Obj>,
  xr: unknown,
): { highestVersion: number; acceptNew: boolean } | undefined {
  const bare = contexts.map(({ target: t, ctx }) =>
    t.module.observe(t.settings, { ...ctx, values: new Map() }, observed, undefined),
  );
  if (!bare.some((o) => o.written)) return undefined;
  return {
    highestVersion: Math.max(0, ...bare.map((o) => o.referencedVersion ?? 0)),
    acceptNew: getString(xr, 'metadata', 'annotations', ANNOTATION_REGENERATE) === 'true',
  };
}

function newValue(spec: SecretSpec, deps: Deps): Buffer {
  const gen = spec.value.generate ?? { length: 32, characters: 'alphanumeric' as const };
  return generateValue(gen.length, gen.characters, deps.random);
}

/** A phase keeps the time it began for as long as it lasts; a new phase begins now. */
function rotationStatus(next: StepOutput, xr: unknown, now: Date): RotationStatus {
  const before = getString(xr, 'status', 'rotation', 'phase');
  const since = getString(xr, 'status', 'rotation', 'since');
  return {
    phase: next.phase,
    version: next.version,
    previousVersion: next.previousVersion,
    since: before === next.phase && since !== undefined ? since : now.toISOString(),
    startedAt: next.startedAt,
    nextRotationAt: next.nextRotationAt,
    reason: next.reason,
  };
}

/** Called again when the next transition can happen, and at least once per default poll. */
function ttlSeconds(wakeAt: number | undefined, now: Date): number {
  if (wakeAt === undefined) return DEFAULT_TTL_SECONDS;
  const seconds = Math.ceil((wakeAt - now.getTime()) / 1000);
  return Math.min(DEFAULT_TTL_SECONDS, Math.max(1, seconds));
}

/**
 * The value an origin target holds when it is none of the stored versions: an external rotation
 * to adopt. Only a reading that carries the value (asked for by the origin) counts.
 */
function adoptFromOrigin(
  spec: SecretSpec,
  live: LiveReadings | undefined,
  values: ReadonlyMap<number, Buffer>,
  input: FunctionInput,
  targets: PlannedTarget[],
): { value?: Buffer; refused?: string } | undefined {
  const origin = spec.targets.find((t) => t.origin === true);
  if (origin === undefined || live === undefined) return undefined;
  const r = live.readings.get(origin.name);
  const value = r?.state === 'present' ? r.captured : undefined;
  if (value === undefined) return undefined;
  for (const v of values.values()) if (v.equals(value)) return undefined;
  // The value a generated one would have to match at least: the guardrail, and every target.
  const min = input.guardrails?.minLength ?? 8;
  const errors = checkValue(value, targets).map((e) => e.replace(/^spec\.value: /, ''));
  if (value.length < min) errors.unshift(`shorter than ${min} bytes (guardrails.minLength)`);
  if (errors.length > 0) {
    return {
      refused: `the new value at origin target ${origin.name} is not adopted: ${errors.join('; ')}`,
    };
  }
  return { value };
}

/** A drift found by reading the platform, in the shape and with the memory of any other. */
function liveDrift(
  d: LiveDrift,
  enforce: boolean,
  prev: DriftStatus | undefined,
  now: Date,
): { drift: DriftStatus; fresh: boolean } {
  const state = enforce ? 'Healing' : 'Drifted';
  const how = enforce
    ? 'the provider is asked to reconcile at once and write the declared value again'
    : 'not overwritten (drift policy Alert)';
  const kept = prev !== undefined && prev.state === state && prev.reason === d.reason;
  return {
    drift: {
      state,
      reason: d.reason,
      message: `${d.message}; ${how}`,
      since: kept ? prev.since : now.toISOString(),
    },
    fresh: !kept,
  };
}

/**
 * Changing an annotation makes the provider reconcile the managed resource at once, re-read
 * the secret and write the declared value where it differs. The token is the same for as long
 * as one drift lasts, so the resource is not updated on every call.
 */
function healToken(target: string, since: string): string {
  return createHash('sha256').update(`${target}\n${since}`).digest('hex').slice(0, 12);
}

function annotate(obj: Obj, key: string, value: string): void {
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  const annotations = isObj(meta.annotations) ? meta.annotations : {};
  obj.metadata = { ...meta, annotations: { ...annotations, [key]: value } };
}

/** The status this call writes is the one the composite already has. */
function settled(xr: unknown, status: CompositeStatus): boolean {
  const observed = isObj(xr) && isObj(xr.status) ? xr.status : undefined;
  if (observed === undefined) return false;
  return Object.entries(status).every(([k, v]) => sameJson(observed[k], v));
}

/** Equal as JSON: key order and keys holding undefined do not count, as after an API round trip. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => sameJson(x, b[i]))
    );
  }
  if (!isObj(a) || !isObj(b)) return false;
  const keys = (o: Obj) => Object.keys(o).filter((k) => o[k] !== undefined);
  const ka = keys(a);
  return ka.length === keys(b).length && ka.every((k) => sameJson(a[k], b[k]));
}
