/**
 * Drift and deletion policies as Crossplane v2 expresses them: managed resources have no
 * deletionPolicy, only management policies. Alert drops Update (observe, never overwrite), as
 * does an origin target, whose platform writes the value; Orphan drops Delete (the external
 * secret outlives its managed resource).
 */
import type { SecretSpec } from './spec.js';

export type ManagementPolicy = 'Observe' | 'Create' | 'Update' | 'Delete' | 'LateInitialize' | '*';

export function managementPolicies(spec: SecretSpec, origin = false): ManagementPolicy[] {
  const keep = spec.drift?.policy === 'Alert' || origin;
  const orphan = spec.deletion?.policy === 'Orphan';
  if (!keep && !orphan) return ['*'];
  const out: ManagementPolicy[] = ['Observe', 'Create'];
  if (!keep) out.push('Update');
  if (!orphan) out.push('Delete');
  out.push('LateInitialize');
  return out;
}

/** Whether a managed resource with these policies would delete its external secret. */
export function deletes(policies: unknown): boolean {
  if (!Array.isArray(policies)) return true; // absent means the default, ['*']
  return policies.includes('*') || policies.includes('Delete');
}
