/**
 * Encoded responses by the hash of the encoded request. Crossplane sends the same request for
 * an unchanged composite on every poll; when the function's answer cannot have changed (see
 * cacheableUntil), the bytes it gave last time are sent again without decoding the request.
 */
import { createHash } from 'node:crypto';

interface Entry {
  response: Buffer;
  until: number;
}

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;

  /** `size` 0 turns the cache off. */
  constructor(private readonly size: number) {}

  static key(request: Buffer): string {
    return createHash('sha256').update(request).digest('base64');
  }

  get(key: string, now: number): Buffer | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    if (now >= e.until) return undefined;
    // Re-inserted, so the map's order is least recently used first.
    this.entries.set(key, e);
    this.hits++;
    return e.response;
  }

  set(key: string, response: Buffer, until: number, now: number): void {
    if (this.size === 0 || until <= now) return;
    this.entries.delete(key);
    this.entries.set(key, { response, until });
    if (this.entries.size > this.size) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }
}
