/** Provider error text on its way to a status field: ids, keys, tokens and signatures go. */
import { describe, expect, it } from '@jest/globals';

import { scrubError } from '../src/verify/scrub.js';

describe('scrubError', () => {
  it('removes request ids, access keys, tokens, signatures and credential headers', () => {
    const text =
      'AccessDenied: request 1b4e28ba-2fa1-11d2-883f-0016d3cca427 by AKIAIOSFODNN7EXAMPLE ' +
      'with Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig, token hvs.CAESIJ7dZ0k0aXh3bXk2dHBy ' +
      'X-Amz-Security-Token: FwoGZXIvYXdzEXAMPLESESSION x-amz-security-token=Zm9vYmFy ' +
      'Signature=abcdef0123 Authorization: AWS4-HMAC-SHA256';
    const out = scrubError(text);
    for (const secret of [
      '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
      'AKIAIOSFODNN7EXAMPLE',
      'eyJhbGciOiJSUzI1NiJ9',
      'hvs.CAESIJ7dZ0k0aXh3bXk2dHBy',
      'FwoGZXIvYXdzEXAMPLESESSION',
      'Zm9vYmFy',
      'abcdef0123',
      'AWS4-HMAC-SHA256',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('AccessDenied');
  });

  it('keeps one line of bounded length', () => {
    const out = scrubError(`a\n\nb ${'x'.repeat(1000)}`);
    expect(out.startsWith('a b ')).toBe(true);
    expect(out.length).toBe(300);
  });
});
