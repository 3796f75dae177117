/**
 * Encoded responses by request. Crossplane sends the same request for an unchanged composite on
 * every poll; when the function's answer cannot have changed (see cacheableUntil), the bytes it
 * gave last time are sent again without decoding the request. Crossplane tags each request with
 * the SHA-256 of its deterministic encoding, and its wire bytes vary (map order), so the tag is
 * the key when there is one in that form; otherwise the hash of the bytes.
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
    const tag = requestTag(request);
    return tag !== undefined
      ? `t${tag}`
      : `h${createHash('sha256').update(request).digest('base64')}`;
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

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Reads a base-128 varint; undefined past the end or beyond 2^49. */
function varint(buf: Buffer, at: number): [number, number] | undefined {
  let value = 0;
  for (let i = at, shift = 0; i < buf.length && shift < 49; i++, shift += 7) {
    const b = buf[i] ?? 0;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i + 1];
  }
  return undefined;
}

/** The bytes of the first length-delimited field `field` of a message. */
function field(buf: Buffer, wanted: number): Buffer | undefined {
  let i = 0;
  while (i < buf.length) {
    const key = varint(buf, i);
    if (key === undefined) return undefined;
    i = key[1];
    const wire = key[0] % 8;
    if (wire === 2) {
      const len = varint(buf, i);
      if (len === undefined || len[1] + len[0] > buf.length) return undefined;
      if (Math.floor(key[0] / 8) === wanted) return buf.subarray(len[1], len[1] + len[0]);
      i = len[1] + len[0];
    } else if (wire === 0) {
      const v = varint(buf, i);
      if (v === undefined) return undefined;
      i = v[1];
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return undefined;
  }
  return undefined;
}

/** Crossplane's tag (RunFunctionRequest.meta.tag) when it is a SHA-256 in hex. */
export function requestTag(request: Buffer): string | undefined {
  const meta = field(request, 1);
  const tag = meta === undefined ? undefined : field(meta, 1)?.toString('latin1');
  return tag !== undefined && SHA256_HEX.test(tag) ? tag : undefined;
}
