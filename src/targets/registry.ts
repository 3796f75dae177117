import type { Platform, TargetSpec } from '../spec.js';
import { aws } from './aws.js';
import { azure } from './azure.js';
import { kubernetes } from './kubernetes.js';
import type { Target } from './target.js';
import { vault } from './vault.js';

/** Every platform, in one table; each module checks itself against `Target` where it is defined. */
export const TARGETS = { aws, azure, vault, kubernetes } as const satisfies {
  [P in Platform]: { platform: P };
};

/**
 * A platform module bound to one target's settings, so callers handle every platform alike
 * without casting.
 */
export interface BoundTarget {
  platform: Platform;
  module: Target<unknown>;
  settings: unknown;
}

export function bind(t: TargetSpec): BoundTarget {
  for (const platform of Object.keys(TARGETS) as Platform[]) {
    const module = TARGETS[platform] as Target<unknown>;
    const settings = module.settings(t);
    if (settings !== undefined) return { platform, module, settings };
  }
  throw new Error(`target "${t.name}" names no platform`);
}
