import { getString, health, type Obj } from '../observe.js';
import type { ProviderConfigRef } from '../spec.js';
import { truncate, type Redactor } from '../value.js';
import type { Composed, Judgement, TargetContext } from './target.js';

/** Spec fields every managed resource we emit carries. */
export function managedSpec(forProvider: Obj, ref: ProviderConfigRef): Obj {
  return { forProvider, providerConfigRef: { kind: ref.kind, name: ref.name } };
}

export interface ManagedPart {
  composed: Composed;
  /** For the resource that holds the value: reads the version and evidence it reports. */
  holds?: (observed: Obj) => { version: number | undefined; evidence: string };
}

/**
 * Judges a target made of managed resources: every part must be observed, Ready and Synced for
 * its current generation, and the value-holding part must reference the desired version.
 */
export function judgeManaged(
  ctx: TargetContext,
  parts: ManagedPart[],
  observed: Readonly<Record<string, Obj>>,
  redact: Redactor,
): Judgement {
  const resourceReady: Record<string, boolean> = {};
  const problems: string[] = [];
  let ready = true;
  let synced = true;
  let heldVersion = 0;
  let evidence = '';
  for (const part of parts) {
    const { key, resource } = part.composed;
    const kind = String(resource.kind);
    const o = observed[key];
    if (o === undefined) {
      resourceReady[key] = false;
      ready = synced = false;
      problems.push(`waiting for ${kind} to be created`);
      continue;
    }
    const h = health(o);
    resourceReady[key] = h.ready && h.synced;
    ready &&= h.ready;
    synced &&= h.synced;
    if (h.problem !== '')
      problems.push(`${kind} ${getString(o, 'metadata', 'name') ?? key}: ${h.problem}`);
    if (part.holds !== undefined) {
      const held = part.holds(o);
      evidence = held.evidence;
      if (h.ready && h.synced && held.version !== undefined) heldVersion = held.version;
    }
  }
  const holds = heldVersion === ctx.version;
  let message: string;
  if (problems.length > 0) message = problems.join('; ');
  else if (!holds && heldVersion > 0)
    message = `holds version ${heldVersion}, moving to ${ctx.version}`;
  else if (!holds) message = 'waiting for the provider to report the value written';
  else message = `holds version ${ctx.version}`;
  return {
    heldVersion,
    evidence: truncate(redact.scrub(evidence)),
    ready: ready && synced && holds,
    synced,
    message: truncate(redact.scrub(message)),
    resourceReady,
  };
}
