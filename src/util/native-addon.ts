import { createRequire } from "node:module";
import { PcoccError } from "./errors.js";

/**
 * A lazy loader of one of the addons `native/binding.gyp` builds (`native/build/Release/<name>.node`), loaded
 * on first use only, so that commands which never need it do not pay for it; `hint` says how to get it built.
 */
export function nativeAddon<T>(name: string, what: string, hint: string): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        // dist/<folder>/ and src/<folder>/ are both two levels below the package root
        loaded = createRequire(import.meta.url)(`../../native/build/Release/${name}.node`) as T;
      } catch (err) {
        throw new PcoccError(`pcocc native ${what} addon is not built (${hint})`, { cause: err });
      }
    }
    return loaded;
  };
}
