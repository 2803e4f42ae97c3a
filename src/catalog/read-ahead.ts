/**
 * The pages of `source`, the next one asked for as soon as one is handed out: Microsoft builds and sends page
 * n + 1 while page n is checked, diffed, pushed and written. Never more than one page ahead, so a run holds at
 * most two pages. The pages are still synced one after another, in order; a page that fails (a stale token,
 * Microsoft's error) fails where the listing would have, once the page before it is synced. When the consumer
 * stops early (its page failed), the source is closed once the page asked for ahead has come, and that page is
 * dropped.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  const pages = source[Symbol.asyncIterator]();
  let next = pages.next();
  let finished = false;
  try {
    for (;;) {
      const result = await next;
      if (result.done) {
        finished = true;
        return;
      }
      next = pages.next();
      // Awaited on the next turn; until then a failure must not count as unhandled.
      next.catch(() => undefined);
      yield result.value;
    }
  } catch (error) {
    finished = true;
    throw error;
  } finally {
    if (!finished) {
      void next.then(() => pages.return?.()).catch(() => undefined);
    }
  }
}
