import type { Obj } from '../observe.js';
import type { ManagementPolicy } from '../policies.js';
import type { Platform, ProviderConfigRef, TargetSpec } from '../spec.js';

/** What a platform module needs to know to observe one target. */
export interface BaseContext {
  composite: { name: string; namespace: string };
  /** Name of the composite's target entry. */
  target: string;
  storeName: string;
  /** Every stored version's value, as observed and as desired. */
  values: ReadonlyMap<number, Buffer>;
  providerConfigRef: ProviderConfigRef;
  policies: ManagementPolicy[];
  defaults: { awsRecoveryWindowInDays: number };
}

/** What a platform module needs to know to compose one target. */
export interface TargetContext extends BaseContext {
  /** The version this target should hold now. */
  version: number;
}

export interface CheckContext {
  path: string;
  composite: { name: string; namespace: string };
  storeName: string;
  /** The Secret the value is copied from, if any; a target must never overwrite it. */
  sourceSecret?: string;
  /** Drift policy Alert (never overwrite) and deletion policy Orphan (never delete). */
  alert: boolean;
  /** The target is the origin of the value: never overwritten. */
  origin: boolean;
  orphan: boolean;
}

export interface Findings {
  errors: string[];
  warnings: string[];
}

export interface Composed {
  /** The composition-resource-name, unique within the composite. */
  key: string;
  resource: Obj;
  /**
   * Fields that identify the external secret. Changing one on an existing resource would make
   * the provider replace the secret, so such a change is refused.
   */
  identity: string[][];
}

/** What the last call recorded in the composite's status for a target. */
export interface Previous {
  heldVersion: number;
  evidence: string;
  /** The generation at which the evidence was recorded. */
  generation?: number;
}

/** What the observed state proves about a target, whatever version it should hold. */
export interface Observation {
  /** The version the observed state proves the target holds; 0 until proven. */
  heldVersion: number;
  /** The version the observed value-holding resource references, proven or not. */
  referencedVersion?: number;
  /** The platform's own version marker (AWS versionId, Azure version, ...), or empty. */
  evidence: string;
  /** Every part observed, Ready and Synced for its current generation. */
  healthy: boolean;
  /** The platform shows a written value, whether or not it is one the store knows. */
  written: boolean;
  synced: boolean;
  /** What is wrong, in the provider's words where it said something; empty when nothing. */
  problem: string;
  /** The provider's own error text, when it reports one; empty otherwise. */
  error: string;
  /** metadata.generation of the value-holding resource, when observed. */
  generation?: number;
  /** Drift the platform shows directly, without comparing with an earlier call. */
  signal?: 'CurrentLabelMoved' | 'DataDiffers';
  /** Health of each composed resource of this target, by composition-resource-name. */
  resourceHealthy: Record<string, boolean>;
}

/**
 * One platform. Each module `satisfies` this, and `registry.ts` lists them in one table, so a
 * new platform is one new file and one line.
 */
export interface Target<S> {
  readonly platform: Platform;
  /** Largest value the platform stores for one secret, in bytes, after its own encoding. */
  readonly maxValueBytes: number;
  /** Why this target cannot hold the value as configured (for example bytes as text), if so. */
  refuses(s: S, value: Buffer): string | undefined;
  settings(t: TargetSpec): S | undefined;
  /** Platform rules the schema cannot express; messages are "<field path>: <rule>". */
  check(s: S, ctx: CheckContext): Findings;
  /** Encoded size of the value as the platform will store it. */
  encodedSize(s: S, value: Buffer): number;
  /** A key equal for two targets exactly when they write the same external secret. */
  identity(s: S, ref: ProviderConfigRef, namespace: string): string;
  /** The name the platform knows the secret by, for status. */
  externalName(s: S, namespace: string): string;
  /** Extra store keys this target reads, per version (for example Vault's JSON document). */
  derivedKeys(s: S, target: string, version: number, value: Buffer): Record<string, Buffer>;
  compose(s: S, ctx: TargetContext): Composed[];
  observe(
    s: S,
    ctx: BaseContext,
    observed: Readonly<Record<string, Obj>>,
    previous: Previous | undefined,
  ): Observation;
}
