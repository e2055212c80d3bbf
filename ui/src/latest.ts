// Only the newest answer counts: pages reload on every database change, and an older,
// slower answer must not replace a newer one.

import { errorText } from "./api";

/**
 * Wraps `fetch` so that only the answer of the newest call is used: `use` gets it unless
 * another call started meanwhile, in which case it is dropped. A failure of the newest call
 * is told with `notify("error", failed, [the error's words])`.
 */
export function latestOnly<T>(fetch: () => Promise<T>, use: (value: T) => void, notify: (tone: "error", headline: string, lines: string[]) => void, failed: string): () => Promise<void> {
  let seq = 0;
  return async () => {
    const mine = ++seq;
    let value: T;
    try {
      value = await fetch();
    } catch (e) {
      if (mine === seq) notify("error", failed, [errorText(e)]);
      return;
    }
    if (mine === seq) use(value);
  };
}
