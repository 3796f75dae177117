import { createRequire } from 'node:module';

import type { ValidateFunction } from 'ajv';

import { compileInputCrd, compileXrdSpec, formatErrors } from './schema.js';

export const PLATFORMS = ['aws', 'azure', 'vault', 'kubernetes'] as const;
export type Platform = (typeof PLATFORMS)[number];

export type Charset = 'alphanumeric' | 'ascii-printable' | 'hex' | 'base64url';

export interface ProviderConfigRef {
  name: string;
  kind: 'ProviderConfig' | 'ClusterProviderConfig';
}

export interface AwsSettings {
  region: string;
  name: string;
  kmsKeyId?: string;
  recoveryWindowInDays?: number;
  description?: string;
}

export type Encoding = 'Text' | 'Base64';

export interface AzureSettings {
  vaultId: string;
  name: string;
  contentType?: string;
  encoding: Encoding;
}

export interface VaultSettings {
  mount: string;
  path: string;
  key: string;
  kvVersion: 1 | 2;
  encoding: Encoding;
}

export interface KubernetesSettings {
  name: string;
  key: string;
  namespace?: string;
}

export interface TargetSpec {
  name: string;
  /** The platform rotates the value itself; a new value seen there is adopted. */
  origin?: boolean;
  providerConfigRef?: ProviderConfigRef;
  aws?: AwsSettings;
  azure?: AzureSettings;
  vault?: VaultSettings;
  kubernetes?: KubernetesSettings;
}

export interface ValueSpec {
  generate?: { length: number; characters: Charset };
  fromSecret?: { name: string; key: string };
}

export interface RotationSpec {
  every?: string;
  strategy: 'Simultaneous' | 'Canary';
  canary?: string;
  deadline: string;
  onFailure: 'Hold' | 'Rollback';
}

/** The composite's spec, as the XRD declares it; only validated values have this type. */
export interface SecretSpec {
  value: ValueSpec;
  rotation?: RotationSpec;
  drift?: { policy: 'Enforce' | 'Alert' };
  deletion?: { policy: 'Delete' | 'Orphan' };
  targets: TargetSpec[];
}

/** The function's input, as its CRD declares it. */
export interface FunctionInput {
  apiVersion: string;
  kind: string;
  defaults?: {
    providerConfigRefs?: Partial<Record<Platform, ProviderConfigRef>>;
    aws?: { recoveryWindowInDays?: number };
  };
  guardrails?: {
    minLength?: number;
    maxRotationPeriod?: string;
    allowedPlatforms?: Platform[];
  };
  verification?: VerificationInput;
}

export interface Limits {
  rate: number;
  burst: number;
  concurrency: number;
}

/** Live verification settings; defaults are applied by the schema. */
export interface VerificationInput {
  ttl: string;
  budget: string;
  aws?: Limits & { credentials?: string; endpoint?: string };
  azure?: Limits & {
    credentials?: string;
    vaultDomain: string;
    endpoint?: string;
    authorityHost?: string;
  };
  vault?: Limits & {
    address: string;
    namespace?: string;
    credentials?: string;
    kubernetesAuth?: { role: string; mount: string };
  };
  kubernetes?: Limits & { credentials?: string };
}

const INPUT_API_VERSION = 'secrets.fn.crossplatform.io/v1beta1';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

let specValidator: ValidateFunction<SecretSpec> | undefined;
let inputValidator: ValidateFunction<FunctionInput> | undefined;

/** Written by the build (scripts/compile-validators.mjs) from the same schema files. */
const PRECOMPILED = './validators.cjs';

function precompiled(): { spec: unknown; input: unknown } | undefined {
  try {
    return createRequire(import.meta.url)(PRECOMPILED) as { spec: unknown; input: unknown };
  } catch {
    // Not built (running from source, as the tests do): compile at run time.
    return undefined;
  }
}

/** Compiling is the expensive part; do it once per process, on first use, or not at all. */
function validators(): [ValidateFunction<SecretSpec>, ValidateFunction<FunctionInput>] {
  if (specValidator === undefined || inputValidator === undefined) {
    const built = precompiled();
    specValidator = (built?.spec as ValidateFunction<SecretSpec> | undefined) ?? compileXrdSpec();
    inputValidator =
      (built?.input as ValidateFunction<FunctionInput> | undefined) ?? compileInputCrd();
  }
  return [specValidator, inputValidator];
}

/**
 * Validates the composite's spec against the XRD schema and applies its defaults. Crossplane's
 * own `spec.crossplane` block is not ours to judge and is left out. The input is never mutated.
 */
export function parseSpec(raw: unknown): ParseResult<SecretSpec> {
  const [validate] = validators();
  // A JSON round trip copies plain JSON faster than structuredClone, and ajv's defaults must
  // not write into the request.
  const spec = JSON.parse(JSON.stringify(raw ?? {})) as Record<string, unknown>;
  if (typeof spec === 'object' && !Array.isArray(spec)) delete spec.crossplane;
  if (!validate(spec)) return { ok: false, errors: formatErrors('spec', validate.errors) };
  return { ok: true, value: spec };
}

/** Validates the Composition's input; a pipeline step without input gets empty defaults. */
export function parseInput(raw: unknown): ParseResult<FunctionInput> {
  const [, validate] = validators();
  if (raw === undefined || raw === null) {
    return {
      ok: true,
      value: { apiVersion: 'secrets.fn.crossplatform.io/v1beta1', kind: 'Input' },
    };
  }
  const input = JSON.parse(JSON.stringify(raw)) as unknown;
  if (!validate(input)) return { ok: false, errors: formatErrors('input', validate.errors) };
  if (input.apiVersion !== INPUT_API_VERSION || input.kind !== 'Input') {
    return { ok: false, errors: [`input: must be ${INPUT_API_VERSION} Input`] };
  }
  return { ok: true, value: input };
}
