/**
 * What a live reading says about a target: which stored version the platform really holds,
 * judged by hash, next to what the provider reports. A reading that cannot be made is
 * 'Unknown' and changes nothing else.
 */
import { createHash } from 'node:crypto';

import type { Reading } from './verify/engine.js';

export type LiveState =
  'InSync' | 'Behind' | 'Drifted' | 'Missing' | 'Deleted' | 'Unknown' | 'Adopting';

export interface LiveStatus {
  state: LiveState;
  /** The stored version the live value equals. */
  version?: number;
  platformVersion?: string;
  checkedAt: string;
  message: string;
}

export interface LiveDrift {
  reason: 'LiveValueDiffers' | 'LiveValueReverted' | 'LiveSecretMissing' | 'LiveSecretDeleted';
  message: string;
}

export interface LiveJudgement {
  status: LiveStatus;
  drift?: LiveDrift;
  /** The reading should not be trusted for long: read it again soon. */
  reread: boolean;
}

/** SHA-256 of each stored version's value, to recognise a live value without holding it. */
export function versionHashes(values: ReadonlyMap<number, Buffer>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [v, value] of values) out.set(createHash('sha256').update(value).digest('hex'), v);
  return out;
}

export function judgeLive(i: {
  reading?: Reading;
  /** Why the target cannot be read at all (credentials, configuration). */
  problem?: string;
  hashes: ReadonlyMap<string, number>;
  desired: number;
  /** The version the provider reports the target holds; 0 when not proven. */
  held: number;
  /** The provider reports a value written. */
  written: boolean;
  now: Date;
}): LiveJudgement {
  const r = i.reading;
  const at = new Date(r?.checkedAt ?? i.now.getTime()).toISOString();
  const status = (state: LiveState, message: string, version?: number): LiveStatus => ({
    state,
    ...(version === undefined ? {} : { version }),
    ...(r?.version === undefined ? {} : { platformVersion: r.version }),
    checkedAt: at,
    message,
  });
  if (r === undefined) {
    return { status: status('Unknown', i.problem ?? 'not read'), reread: false };
  }
  if (r.state === 'unknown') {
    return { status: status('Unknown', r.error ?? 'not read'), reread: false };
  }
  if (r.state === 'missing' || r.state === 'deleted') {
    const deleted = r.state === 'deleted';
    const state = deleted ? 'Deleted' : 'Missing';
    const what = deleted ? 'is deleted (recoverable)' : 'does not exist';
    if (!i.written) {
      return {
        status: status(state, `${what}; it has not been written yet`),
        reread: true,
      };
    }
    return {
      status: status(state, `${what} on the platform; it should hold version ${i.desired}`),
      drift: {
        reason: deleted ? 'LiveSecretDeleted' : 'LiveSecretMissing',
        message: `the secret ${what} on the platform; it should hold version ${i.desired}`,
      },
      reread: true,
    };
  }
  const version = r.valueSha256 === undefined ? undefined : i.hashes.get(r.valueSha256);
  if (r.valueSha256 === undefined) {
    return { status: status('Unknown', 'the value could not be read'), reread: false };
  }
  if (version === undefined) {
    return {
      status: status('Drifted', 'the live value is none of the stored versions'),
      drift: {
        reason: 'LiveValueDiffers',
        message: 'the live value is none of the stored versions (changed outside Crossplane)',
      },
      reread: true,
    };
  }
  if (version === i.desired) {
    return { status: status('InSync', `holds version ${version}`, version), reread: false };
  }
  // The provider says it wrote the desired version; a reading older than that proves nothing,
  // and a newer stored version there is one being rolled out.
  if (i.held === i.desired && !r.cached && version < i.desired) {
    return {
      status: status('Drifted', `holds version ${version}, not ${i.desired}`, version),
      drift: {
        reason: 'LiveValueReverted',
        message:
          `the platform holds version ${version}'s value though the provider wrote version ` +
          `${i.desired} (restored or recovered outside Crossplane)`,
      },
      reread: true,
    };
  }
  const moving =
    version > i.desired
      ? `holds version ${version}, which is being rolled out`
      : `holds version ${version}, moving to ${i.desired}`;
  return { status: status('Behind', moving, version), reread: true };
}
