/**
 * Live verification: reading what a vault holds through the platform's own SDK. An adapter
 * returns hashes and markers only; the value itself never leaves it.
 */
import type { Platform } from '../spec.js';

export type LiveState = 'present' | 'missing' | 'deleted' | 'unknown';

export interface LiveObservation {
  state: LiveState;
  /** The platform's marker of the current value (AWS VersionId, ...). */
  version?: string;
  /** SHA-256 (hex) of the current value's bytes. */
  valueSha256?: string;
  /** When the platform last changed the secret (RFC 3339). */
  updatedAt?: string;
  kmsKeyId?: string;
  /** Why the state is unknown, scrubbed of request ids and credentials. */
  error?: string;
  /**
   * The value itself, only for a target that asked for it (the origin of an external
   * rotation); kept in memory, never written anywhere but the value store.
   */
  captured?: Buffer;
}

/** One narrow interface per platform; each adapter is checked against it where it is defined. */
export interface Adapter<T extends { id: string }> {
  readonly platform: Platform;
  /** Observes every target; a target the platform cannot answer for is 'unknown', never thrown. */
  observe(
    targets: readonly T[],
    signal: AbortSignal,
    opts?: { concurrency?: number },
  ): Promise<Map<string, LiveObservation>>;
}
