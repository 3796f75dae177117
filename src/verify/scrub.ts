/**
 * Provider error text, made safe for a status field or an event: request ids, access keys,
 * tokens and signatures removed, one line, bounded length.
 */
const PATTERNS: [RegExp, string][] = [
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, '<access-key>'],
  [/\b(?:bearer|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '<token>'],
  [/\b(?:hvs|hvb|s|b)\.[A-Za-z0-9]{20,}\b/g, '<token>'],
  [/(signature|credential|x-amz-security-token)=[^&\s,]+/gi, '$1=<redacted>'],
  [/(x-amz-security-token|authorization|x-vault-token)\s*:\s*\S+/gi, '$1: <redacted>'],
  [/\s+/g, ' '],
];

export function scrubError(text: string): string {
  let out = text;
  for (const [re, by] of PATTERNS) out = out.replace(re, by);
  out = out.trim();
  return out.length <= 300 ? out : `${out.slice(0, 297)}...`;
}
