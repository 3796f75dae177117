/**
 * Rules the XRD schema cannot express, checked before anything is emitted: guardrails from the
 * Composition, per-platform names, targets that collide, and the value against every target.
 */
import { parseDuration } from './duration.js';
import { jitterFor, type Policy } from './rotation.js';
import { bind, type BoundTarget } from './targets/registry.js';
import type { FunctionInput, ProviderConfigRef, SecretSpec } from './spec.js';
import { storeBytesPerVersion } from './store.js';

const DEFAULT_PROVIDER_CONFIG: ProviderConfigRef = {
  kind: 'ClusterProviderConfig',
  name: 'default',
};

/** AWS's own default is 30 days; 7 keeps a deleted secret recoverable yet frees its name soon. */
export const DEFAULT_AWS_RECOVERY_WINDOW = 7;

/** As short as a generated value may be; shorter is too weak, and too short to redact safely. */
const MIN_VALUE_BYTES = 8;

/** Kubernetes caps the sum of a Secret's data at 1 MiB. */
const STORE_LIMIT = 1024 * 1024;

/** During a rotation the store holds the new and the previous version at once. */
const VERSIONS_DURING_ROTATION = 2;

export interface PlannedTarget extends BoundTarget {
  name: string;
  path: string;
  providerConfigRef: ProviderConfigRef;
}

export interface Plan {
  targets: PlannedTarget[];
  errors: string[];
  warnings: string[];
}

export interface PlanContext {
  composite: { name: string; namespace: string };
  storeName: string;
}

export function planTargets(spec: SecretSpec, input: FunctionInput, ctx: PlanContext): Plan {
  const errors: string[] = [];
  const warnings: string[] = [];
  const targets: PlannedTarget[] = [];
  const seenNames = new Map<string, string>();
  const seenIdentities = new Map<string, string>();
  const allowed = input.guardrails?.allowedPlatforms;
  const minLength = input.guardrails?.minLength;
  const generate = spec.value.generate;

  if (generate !== undefined && minLength !== undefined && generate.length < minLength) {
    errors.push(
      `spec.value.generate.length: must be >= ${minLength} ` +
        '(guardrail minLength of the Composition)',
    );
  }

  spec.targets.forEach((t, i) => {
    const path = `spec.targets[${i}]`;
    const bound = bind(t);
    const providerConfigRef =
      t.providerConfigRef ??
      input.defaults?.providerConfigRefs?.[bound.platform] ??
      DEFAULT_PROVIDER_CONFIG;

    const previous = seenNames.get(t.name);
    if (previous !== undefined) errors.push(`${path}.name: duplicates the name of ${previous}`);
    seenNames.set(t.name, path);

    if (allowed !== undefined && !allowed.includes(bound.platform)) {
      errors.push(
        `${path}: platform ${bound.platform} is not allowed by the Composition ` +
          `(allowed: ${allowed.join(', ')})`,
      );
    }

    const found = bound.module.check(bound.settings, {
      path,
      composite: ctx.composite,
      storeName: ctx.storeName,
      sourceSecret: spec.value.fromSecret?.name,
      alert: spec.drift?.policy === 'Alert',
      orphan: spec.deletion?.policy === 'Orphan',
      origin: t.origin === true,
    });
    errors.push(...found.errors);
    warnings.push(...found.warnings);

    const identity = bound.module.identity(
      bound.settings,
      providerConfigRef,
      ctx.composite.namespace,
    );
    const owner = seenIdentities.get(identity);
    if (owner !== undefined) {
      const external = bound.module.externalName(bound.settings, ctx.composite.namespace);
      errors.push(`${path}: writes the same external secret as ${owner} (${external})`);
    } else {
      seenIdentities.set(identity, path);
    }

    targets.push({ ...bound, name: t.name, path, providerConfigRef });
  });

  return { targets, errors, warnings };
}

/**
 * Checks one value against every target as that target will encode it, and against the store,
 * so an oversized or non-text value is refused before any platform is written.
 */
export function checkValue(value: Buffer, targets: PlannedTarget[]): string[] {
  const errors: string[] = [];
  if (value.length === 0) return ['spec.value: the value is empty'];
  if (value.length < MIN_VALUE_BYTES) {
    return [`spec.value: the value is shorter than ${MIN_VALUE_BYTES} bytes`];
  }
  const derived: Buffer[] = [];
  for (const t of targets) {
    const refused = t.module.refuses(t.settings, value);
    if (refused !== undefined) {
      errors.push(`${t.path}: ${refused}`);
      continue;
    }
    const size = t.module.encodedSize(t.settings, value);
    if (size > t.module.maxValueBytes) {
      errors.push(
        `${t.path}: the value takes ${size} bytes on ${t.platform}, which holds at most ` +
          `${t.module.maxValueBytes}`,
      );
    }
    derived.push(...Object.values(t.module.derivedKeys(t.settings, t.name, 1, value)));
  }
  const perVersion = storeBytesPerVersion(value, derived);
  if (errors.length === 0 && perVersion * VERSIONS_DURING_ROTATION > STORE_LIMIT) {
    errors.push(
      `spec.value: the value store needs ${perVersion} bytes per version and keeps ` +
        `${VERSIONS_DURING_ROTATION} versions during a rotation, more than the ${STORE_LIMIT} ` +
        'bytes a Kubernetes Secret holds',
    );
  }
  return errors;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;
const DEFAULT_DEADLINE = HOUR;

/** An origin target is the value's source, so it excludes every other source. */
function originErrors(spec: SecretSpec, alert: boolean): string[] {
  const errors: string[] = [];
  const origins = spec.targets.flatMap((t, i) => (t.origin === true ? [i] : []));
  const [first, ...others] = origins;
  if (first === undefined) return errors;
  const path = `spec.targets[${first}].origin`;
  for (const i of others) {
    errors.push(
      `spec.targets[${i}].origin: at most one target may be the origin ` +
        `(spec.targets[${first}] already is)`,
    );
  }
  if (spec.value.fromSecret !== undefined) {
    errors.push(
      `${path}: cannot be combined with spec.value.fromSecret (two sources of the value)`,
    );
  }
  if (alert) {
    errors.push(
      `${path}: drift policy Alert never overwrites a target, so a value adopted from the origin ` +
        'could not be rolled out',
    );
  }
  if (spec.rotation?.every !== undefined) {
    errors.push(
      `spec.rotation.every: the value comes from ${path.replace('.origin', '')}, whose platform ` +
        'rotates it; a schedule here would overwrite the value in use there',
    );
  }
  return errors;
}

/**
 * Resolves the rotation policy: the spec's settings, the Composition's maximum period (which is
 * also the period of a secret that sets none), and the composite's own jitter.
 */
export function rotationPolicy(
  spec: SecretSpec,
  input: FunctionInput,
  identity: string,
): { policy: Policy; errors: string[] } {
  const r = spec.rotation;
  const errors: string[] = [];
  const max = parseMax(input.guardrails?.maxRotationPeriod, errors);
  let every = r?.every === undefined ? undefined : parseDuration(r.every);
  if (r?.every !== undefined && every === undefined) {
    errors.push('spec.rotation.every: must be a duration such as 720h');
  }
  if (every !== undefined && spec.value.fromSecret !== undefined) {
    errors.push(
      'spec.rotation.every: a value copied from spec.value.fromSecret cannot be rotated on a ' +
        'schedule; a change of the source starts a rotation',
    );
  } else if (every !== undefined && every < HOUR) {
    errors.push('spec.rotation.every: must be at least 1h');
  } else if (every !== undefined && max !== undefined && every > max.ms) {
    errors.push(
      `spec.rotation.every: must be at most ${max.text} (guardrail maxRotationPeriod of the ` +
        'Composition)',
    );
  }
  const alert = spec.drift?.policy === 'Alert';
  errors.push(...originErrors(spec, alert));
  if (alert && every !== undefined) {
    errors.push(
      'spec.rotation.every: drift policy Alert never overwrites a target, so it cannot rotate',
    );
  } else if (alert && max !== undefined && spec.value.generate !== undefined) {
    errors.push(
      `spec.drift.policy: Alert never overwrites a target, so it cannot rotate, but the ` +
        `Composition requires a rotation at least every ${max.text}`,
    );
  }
  const origin = spec.targets.find((t) => t.origin === true)?.name;
  if (
    every === undefined &&
    max !== undefined &&
    spec.value.generate !== undefined &&
    !alert &&
    origin === undefined
  ) {
    every = max.ms;
  }
  const deadline = r === undefined ? DEFAULT_DEADLINE : parseDuration(r.deadline);
  if (deadline === undefined || deadline < MINUTE) {
    errors.push('spec.rotation.deadline: must be a duration of at least 1m');
  }
  const strategy = r?.strategy ?? 'Simultaneous';
  const names = spec.targets.map((t) => t.name);
  if (strategy === 'Canary' && (r?.canary === undefined || !names.includes(r.canary))) {
    errors.push('spec.rotation.canary: must name one of spec.targets when strategy is Canary');
  }
  if (strategy === 'Simultaneous' && r?.canary !== undefined) {
    errors.push('spec.rotation.canary: is only allowed with strategy Canary');
  }
  return {
    policy: {
      every,
      strategy,
      canary: r?.canary,
      deadline: deadline ?? DEFAULT_DEADLINE,
      onFailure: r?.onFailure ?? 'Hold',
      frozen: alert,
      ...(origin === undefined ? {} : { origin }),
      jitter: jitterFor(identity, every),
    },
    errors,
  };
}

function parseMax(
  text: string | undefined,
  errors: string[],
): { ms: number; text: string } | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms < HOUR) {
    errors.push('input.guardrails.maxRotationPeriod: must be a duration of at least 1h');
    return undefined;
  }
  return { ms, text };
}
