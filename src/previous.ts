/**
 * What the last call recorded in the composite's status, read back defensively: the status may
 * be missing, stale or edited, and is only ever a hint next to the store and observed resources.
 */
import type { DriftState, DriftStatus } from './drift.js';
import { get, getNumber, getString } from './observe.js';

export interface PreviousTarget {
  heldVersion: number;
  evidence: string;
  generation?: number;
  drift?: DriftStatus;
  /** The state of the last live reading, if verification is on. */
  live?: string;
}

const STATES: readonly string[] = ['InSync', 'Pending', 'Drifted', 'Healing', 'Failed'];

function drift(t: unknown): DriftStatus | undefined {
  const state = getString(t, 'drift', 'state');
  const reason = getString(t, 'drift', 'reason');
  const since = getString(t, 'drift', 'since');
  if (state === undefined || !STATES.includes(state) || reason === undefined) return undefined;
  if (since === undefined || Number.isNaN(Date.parse(since))) return undefined;
  const evidence = getString(t, 'drift', 'evidence');
  return {
    state: state as DriftState,
    reason,
    message: getString(t, 'drift', 'message') ?? '',
    since,
    ...(evidence === undefined ? {} : { evidence }),
  };
}

export function previousTargets(xr: unknown): Map<string, PreviousTarget> {
  const out = new Map<string, PreviousTarget>();
  const list = get(xr, 'status', 'targets');
  if (!Array.isArray(list)) return out;
  for (const t of list as unknown[]) {
    const name = getString(t, 'name');
    const held = getNumber(t, 'heldVersion');
    if (name === undefined || held === undefined) continue;
    out.set(name, {
      heldVersion: held,
      evidence: getString(t, 'evidence') ?? '',
      generation: getNumber(t, 'generation'),
      drift: drift(t),
      live: getString(t, 'live', 'state'),
    });
  }
  return out;
}
