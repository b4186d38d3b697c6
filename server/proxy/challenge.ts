/** One challenge of a `WWW-Authenticate` header (RFC 7235): its scheme and auth-params. */
export interface Challenge {
  /** Lower case: "basic", "bearer", ... */
  scheme: string;
  params: Record<string, string>;
}

/**
 * The challenges of a `WWW-Authenticate` header. Values may be tokens or quoted strings with
 * commas and escapes inside (`scope="repository:a/b:pull,push"`), so the header is scanned, not split.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (pattern: RegExp) => {
    while (i < header.length && pattern.test(header[i] as string)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < header.length && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    for (;;) {
      skip(/\s/);
      const mark = i;
      const name = token();
      skip(/\s/);
      if (!name || header[i] !== "=") {
        // The next challenge's scheme (or a token68 this parser has no use for).
        i = mark;
        break;
      }
      i++;
      skip(/\s/);
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === "\\") i++;
          value += header[i] ?? "";
          i++;
        }
        i++;
      } else {
        value = token();
      }
      challenge.params[name.toLowerCase()] = value;
      skip(/\s/);
      if (header[i] !== ",") break;
      i++;
    }
  }
  return challenges;
}
