/**
 * Platform errors that managed resources report, recognised so an operator gets a specific
 * reason and remedy instead of raw provider text. Throttling and timeouts are transient: the
 * provider retries them, and they are never drift nor a reason to generate a value.
 */
export interface Known {
  transient: boolean;
  reason: string;
  remedy: string;
}

const KNOWN: { test: RegExp; known: Known }[] = [
  {
    test: /throttl|rate exceeded|too many requests|\b429\b|requestlimitexceeded|slow ?down/i,
    known: {
      transient: true,
      reason: 'Throttled',
      remedy: 'the platform throttles; the provider retries',
    },
  },
  {
    test: new RegExp(
      [
        'timed? ?out',
        'deadline exceeded',
        'i/o timeout',
        'connection reset',
        '\\b50[234]\\b',
        'serviceunavailable',
        'temporarily unavailable',
      ].join('|'),
      'i',
    ),
    known: {
      transient: true,
      reason: 'Unreachable',
      remedy: 'the platform did not answer; the provider retries',
    },
  },
  {
    test: new RegExp(
      [
        'ObjectIsDeletedButRecoverable',
        'deleted but recoverable',
        'soft[- ]?deleted',
        'in a deleted (but recoverable )?state',
      ].join('|'),
      'i',
    ),
    known: {
      transient: false,
      reason: 'SoftDeleted',
      remedy:
        'Azure Key Vault holds a soft-deleted secret of this name: recover it (az keyvault ' +
        'secret recover), or purge it (needs the purge permission, and is impossible while the ' +
        "vault's purge protection is on: then wait out the retention period or use another name)",
    },
  },
  {
    test: /scheduled for deletion|marked (for|as) deleted|marked for deletion|already scheduled/i,
    known: {
      transient: false,
      reason: 'ScheduledForDeletion',
      remedy:
        'AWS holds a secret of this name scheduled for deletion: restore it (aws ' +
        'secretsmanager restore-secret) or wait until its recovery window ends',
    },
  },
  {
    test: /check-and-set|cas_required|\bcas\b.*(required|mismatch|did not match)/i,
    known: {
      transient: false,
      reason: 'CheckAndSetRequired',
      remedy:
        'the Vault mount requires check-and-set (cas_required), which this function does not ' +
        'send: a cas that follows every write would make the provider write again and again; ' +
        'turn cas_required off on the mount',
    },
  },
];

export function classify(error: string): Known | undefined {
  return KNOWN.find((k) => k.test.test(error))?.known;
}
