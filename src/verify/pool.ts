/** Reads per adapter call in flight at once, unless the input's `concurrency` says otherwise. */
export const DEFAULT_CONCURRENCY = 4;

/** Runs `fn` over the items with at most `limit` running at once. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  };
  const n = Math.max(1, Math.min(Math.floor(limit), items.length));
  await Promise.all(Array.from({ length: n }, worker));
}
