import { randomInt } from 'node:crypto';

import type { Charset } from './spec.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Every character set is ASCII, so a generated value is the same bytes on every platform. */
export const CHARSETS: Record<Charset, string> = {
  alphanumeric: ALNUM,
  // Printable ASCII without the space, which too many consumers trim.
  'ascii-printable': Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join(''),
  hex: '0123456789abcdef',
  base64url: `${ALNUM}-_`,
};

/** Returns a uniform integer in [0, max); injectable so tests can be deterministic. */
export type RandomInt = (max: number) => number;

export const cryptoRandomInt: RandomInt = (max) => randomInt(max);

/**
 * Draws each character independently and uniformly: `randomInt` rejects biased samples, so no
 * character is likelier than another, whatever the size of the set.
 */
export function generateValue(length: number, charset: Charset, random: RandomInt): Buffer {
  const chars = CHARSETS[charset];
  let out = '';
  for (let i = 0; i < length; i++) out += chars.charAt(random(chars.length));
  return Buffer.from(out, 'ascii');
}

/** Standard base64 with padding, as Kubernetes stores Secret data. */
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isUtf8(value: Buffer): boolean {
  try {
    utf8.decode(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces every form in which a value could appear in provider text (raw, base64, JSON-escaped)
 * before that text reaches a status field or an event. Applied where messages are built, so no
 * call site has to remember it.
 */
export class Redactor {
  private readonly needles: string[];

  constructor(values: Buffer[]) {
    const forms = new Set<string>();
    for (const v of values) {
      if (v.length < 4) continue;
      const text = v.toString('utf8');
      const json = JSON.stringify(text).slice(1, -1);
      forms.add(text);
      forms.add(v.toString('base64'));
      forms.add(v.toString('base64url'));
      forms.add(json);
      // Go's encoder, which the providers use, also escapes <, > and & (and U+2028/9).
      if (GO_ESCAPED.test(json)) {
        forms.add(
          json
            .replace(/</g, '\\u003c')
            .replace(/>/g, '\\u003e')
            .replace(/&/g, '\\u0026')
            .replace(/\u2028/g, '\\u2028')
            .replace(/\u2029/g, '\\u2029'),
        );
      }
    }
    // Longest first, so a value that contains another is removed whole.
    this.needles = [...forms].filter((f) => f.length >= 4).sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    // Nearly every message holds no value: look before cutting.
    for (const n of this.needles) if (out.includes(n)) out = out.split(n).join('[redacted]');
    return out;
  }
}

const GO_ESCAPED = /[<>&\u2028\u2029]/;

const MAX_MESSAGE = 512;

/** Provider messages can be long; status fields and events should stay readable. */
export function truncate(text: string): string {
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 3)}...`;
}
