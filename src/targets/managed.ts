import { getNumber, getString, health, type Obj } from '../observe.js';
import type { ManagementPolicy } from '../policies.js';
import type { ProviderConfigRef } from '../spec.js';
import type { Composed, Observation, Previous } from './target.js';

/** Spec fields every managed resource we emit carries. */
export function managedSpec(
  forProvider: Obj,
  ctx: { providerConfigRef: ProviderConfigRef; policies: ManagementPolicy[] },
): Obj {
  const ref = ctx.providerConfigRef;
  return {
    forProvider,
    managementPolicies: ctx.policies,
    providerConfigRef: { kind: ref.kind, name: ref.name },
  };
}

export const FP = ['spec', 'forProvider'];

/** The provider configuration decides which account or cluster a name lives in. */
export const PROVIDER_CONFIG = ['spec', 'providerConfigRef'];

export interface ManagedPart {
  composed: Composed;
  /** For the resource that holds the value: reads the version and evidence it reports. */
  holds?: (observed: Obj) => {
    version: number | undefined;
    evidence: string;
    signal?: Observation['signal'];
  };
}

/**
 * Observes a target made of managed resources. It holds a version only when every part is
 * observed, Ready and Synced for its current generation, the value-holding part references that
 * version, and (when the last call recorded evidence for another version) the platform's version
 * evidence has moved since: a Ready condition alone proves nothing.
 */
export function observeManaged(
  parts: ManagedPart[],
  observed: Readonly<Record<string, Obj>>,
  previous: Previous | undefined,
): Observation {
  const resourceHealthy: Record<string, boolean> = {};
  const problems: string[] = [];
  let healthy = true;
  let synced = true;
  let heldVersion = 0;
  let referencedVersion: number | undefined;
  let evidence = '';
  let written = false;
  let signal: Observation['signal'];
  let generation: number | undefined;
  const errors: string[] = [];
  for (const part of parts) {
    const { key, resource } = part.composed;
    const kind = String(resource.kind);
    const o = observed[key];
    if (o === undefined) {
      resourceHealthy[key] = false;
      healthy = synced = false;
      problems.push(`waiting for ${kind} to be created`);
      continue;
    }
    const h = health(o);
    resourceHealthy[key] = h.ready && h.synced;
    healthy &&= h.ready;
    synced &&= h.synced;
    const name = getString(o, 'metadata', 'name') ?? key;
    if (h.problem !== '') problems.push(`${kind} ${name}: ${h.problem}`);
    if (h.error !== '') errors.push(`${kind} ${name}: ${h.error}`);
    if (part.holds === undefined) continue;
    const held = part.holds(o);
    evidence = held.evidence;
    referencedVersion = held.version;
    generation = getNumber(o, 'metadata', 'generation');
    // Version evidence means the provider wrote a value at some point, healthy now or not.
    if (held.evidence !== '') written = true;
    if (h.ready && h.synced) signal = held.signal;
    if (!(h.ready && h.synced) || held.version === undefined) continue;
    written = true;
    const unmoved =
      previous !== undefined &&
      previous.heldVersion > 0 &&
      previous.heldVersion !== held.version &&
      previous.evidence !== '' &&
      previous.evidence === held.evidence;
    if (unmoved) {
      heldVersion = previous.heldVersion;
      problems.push(`${kind} ${name}: the platform still reports the version it had before`);
    } else {
      heldVersion = held.version;
    }
  }
  return {
    heldVersion,
    referencedVersion,
    evidence,
    healthy: healthy && synced,
    written,
    synced,
    problem: problems.join('; '),
    error: errors.join('; '),
    signal,
    generation,
    resourceHealthy,
  };
}
