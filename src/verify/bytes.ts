/** A live value's bytes as the target's encoding defines them. */
import { BASE64 } from '../value.js';

/**
 * Text that is not valid base64 under encoding Base64 is not one of our values: it is hashed as
 * the text it is (so it matches no stored version) and marked inexact, so it is never adopted.
 */
export function liveBytes(
  value: string,
  encoding: 'Text' | 'Base64',
): {
  bytes: Buffer;
  exact: boolean;
} {
  if (encoding === 'Text') return { bytes: Buffer.from(value, 'utf8'), exact: true };
  if (!BASE64.test(value)) return { bytes: Buffer.from(value, 'utf8'), exact: false };
  return { bytes: Buffer.from(value, 'base64'), exact: true };
}
