const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000 };

/** Parses the Go duration subset the XRD allows ("720h", "1h30m", "90s") to milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+h)?(\d+m)?(\d+s)?$/.test(text) || text === '') return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([hms])/g)) {
    ms += Number(n) * (UNITS[unit ?? ''] ?? 0);
  }
  return ms;
}

/** RFC 3339 time to epoch milliseconds; an unreadable time is treated as absent. */
export function parseTime(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
