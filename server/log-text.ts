/**
 * distribution's `text` formatter: one logfmt line, `time="…" level=info msg="…" key=value`, with
 * strings quoted (and escaped) as JSON so a value never spills onto a second line.
 */
export function toLogfmt(entry: Record<string, unknown>): string {
  const { time, level, msg, ...fields } = entry;
  const head = `time=${JSON.stringify(time)} level=${String(level)} msg=${JSON.stringify(msg ?? "")}`;
  const rest = Object.entries(fields).map(([key, value]) => `${key}=${JSON.stringify(value ?? null)}`);
  return rest.length ? `${head} ${rest.join(" ")}` : head;
}
