import { LRUCache } from "lru-cache";
import picomatch from "picomatch";

/**
 * Repository name globs, shared by access rules and tag cleanup rules. `*` and `?` stay within one
 * path component; `**` as a whole component spans any number of them (`team/**` matches
 * `team/app` and `team/a/b`, not `team`; `**` alone matches every name). Everything else is
 * literal: no braces, brackets, extglobs, negation or escapes.
 */
const options: picomatch.PicomatchOptions = {
  dot: true,
  nobrace: true,
  nobracket: true,
  noextglob: true,
  nonegate: true,
  // Without it `team/**` would also match `team` itself, widening what a rule grants.
  strictSlashes: true,
  // Repository names always use "/", whatever the host's path separator.
  windows: false,
};

/** Compiled globs: access rules are matched on every token request. */
const matchers = new LRUCache<string, picomatch.Matcher>({ max: 1_000 });

export function matchesRepositoryGlob(glob: string, name: string): boolean {
  let matcher = matchers.get(glob);
  if (!matcher) {
    matcher = picomatch(glob, options);
    matchers.set(glob, matcher);
  }
  return matcher(name);
}
