/**
 * RunFunction: one call turns the observed composite and its composed resources into the
 * desired ones. Every failure is one fatal result and an immediate return, so nothing is ever
 * half-applied; problems that do not block are warnings.
 */
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

import { STORE_KEY, storeName } from './names.js';
import { getString, isObj, type Obj } from './observe.js';
import { checkValue, DEFAULT_AWS_RECOVERY_WINDOW, planTargets } from './plan.js';
import { resolveValue, SOURCE_REQUIREMENT, sourceSelector } from './resolve.js';
import { parseInput, parseSpec } from './spec.js';
import { conditions, targetStatus, type CompositeStatus } from './status.js';
import { composeStore, readStore } from './store.js';
import type { TargetContext } from './targets/target.js';
import { Redactor, type RandomInt } from './value.js';

export interface Deps {
  logger: Logger;
  random: RandomInt;
  now: () => Date;
}

const DEFAULT_TTL_SECONDS = 60;

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

function fatal(rsp: RunFunctionResponse, reason: string, message: string): RunFunctionResponse {
  result(rsp, Severity.SEVERITY_FATAL, reason, message);
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

export function runFunction(req: RunFunctionRequest, deps: Deps): RunFunctionResponse {
  const now = deps.now();
  const rsp = baseResponse(req);
  const xr = req.observed?.composite?.resource;
  const name = getString(xr, 'metadata', 'name') ?? '';
  const namespace = getString(xr, 'metadata', 'namespace') ?? '';
  const log = deps.logger.child({ composite: `${namespace}/${name}` });

  if (name === '' || namespace === '') {
    return fatal(
      rsp,
      'InvalidComposite',
      'cannot compose: the observed composite has no metadata.name or metadata.namespace',
    );
  }

  const input = parseInput(req.input);
  if (!input.ok) return fatal(rsp, 'InvalidInput', `invalid input: ${input.errors.join('; ')}`);
  const spec = parseSpec(isObj(xr) ? xr.spec : undefined);
  if (!spec.ok) return fatal(rsp, 'InvalidSpec', `invalid spec: ${spec.errors.join('; ')}`);

  const store = storeName(name);
  const plan = planTargets(spec.value, input.value, {
    composite: { name, namespace },
    storeName: store,
  });
  if (plan.errors.length > 0) {
    return fatal(rsp, 'InvalidSpec', `invalid spec: ${plan.errors.join('; ')}`);
  }

  // Requirements must be returned on every call, or Crossplane sees them change and calls again.
  const selector = sourceSelector(spec.value, namespace);
  if (selector !== undefined) {
    rsp.requirements = Requirements.fromPartial({ resources: { [SOURCE_REQUIREMENT]: selector } });
  }
  const required = req.requiredResources[SOURCE_REQUIREMENT];

  const observed = observedObjects(req);
  const storeRead = readStore(observed[STORE_KEY]);
  const resolution = resolveValue({
    spec: spec.value,
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

  const { store: stored } = resolution;
  const current = stored.values.get(stored.version) ?? Buffer.alloc(0);
  const valueErrors = checkValue(current, plan.targets);
  if (valueErrors.length > 0) {
    return fatal(rsp, 'InvalidValue', `invalid value: ${valueErrors.join('; ')}`);
  }

  const redact = new Redactor([...stored.values.values()]);
  const desired = rsp.desired ?? { composite: undefined, resources: {} };
  rsp.desired = desired;
  const status: CompositeStatus = {
    version: stored.version,
    store: { name: store, versions: [...stored.values.keys()].sort((a, b) => a - b) },
    targets: [],
  };

  const derived: Record<string, Buffer> = {};
  for (const t of plan.targets) {
    for (const [v, value] of stored.values) {
      Object.assign(derived, t.module.derivedKeys(t.settings, t.name, v, value));
    }
    const ctx: TargetContext = {
      composite: { name, namespace },
      target: t.name,
      storeName: store,
      version: stored.version,
      values: stored.values,
      providerConfigRef: t.providerConfigRef,
      defaults: {
        awsRecoveryWindowInDays:
          input.value.defaults?.aws?.recoveryWindowInDays ?? DEFAULT_AWS_RECOVERY_WINDOW,
      },
    };
    const judgement = t.module.judge(t.settings, ctx, observed, redact);
    for (const c of t.module.compose(t.settings, ctx)) {
      desired.resources[c.key] = resource(c.resource, judgement.resourceReady[c.key] === true);
    }
    const external = t.module.externalName(t.settings, namespace);
    status.targets.push(targetStatus(t.name, t.platform, external, stored.version, judgement));
  }

  const storeObserved = storeRead.kind === 'ok';
  desired.resources[STORE_KEY] = resource(
    composeStore({ name: store, namespace, store: stored, derived }),
    storeObserved,
  );

  const previous = isObj(desired.composite?.resource) ? desired.composite.resource : {};
  const previousStatus = isObj(previous.status) ? previous.status : {};
  desired.composite = {
    resource: { ...previous, status: { ...previousStatus, ...status } },
    connectionDetails: desired.composite?.connectionDetails ?? {},
    ready: desired.composite?.ready ?? Ready.READY_UNSPECIFIED,
  };
  rsp.conditions = conditions(status, storeObserved);

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
      `version 1 ${how} and stored in Secret ${store}`,
    );
    log.info({ version: 1, how: resolution.created }, 'value created');
  }
  const ready = status.targets.filter((t) => t.ready).length;
  log.debug({ version: stored.version, targets: status.targets.length, ready }, 'composed');
  return rsp;
}
