import { EVENT_ID, SCALAR_STYLE, getScalarValue, parseEvents, type Event, type ScalarEvent } from "js-yaml";

/** A key path into the document: mapping keys and list indexes. */
export type KeyPath = ReadonlyArray<string | number>;

/** 1-based line and column. */
export interface Position {
  line: number;
  column: number;
}

interface Entry {
  /** Where the key is written (absent for list items and the root). */
  key?: number;
  /** Where the value starts. */
  value: number;
  /** The value is a scalar (or alias), not a mapping or a list. */
  scalar: boolean;
}

export function pathKey(path: KeyPath): string {
  return path.map(String).join("\u001f");
}

/** `storage.s3.bucket`, `notifications.endpoints[0].url`. */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/**
 * Visits every node of the first document of `source` in document order, with its key path and,
 * for a mapping's value, the event of its key. A complex (non-scalar) key cannot name a config
 * key: it is skipped with its value. Text that does not parse visits nothing.
 */
export function walkYaml(source: string, visit: (event: Event, path: KeyPath, key: ScalarEvent | undefined) => void): void {
  let events: Event[];
  try {
    events = parseEvents(source, {});
  } catch {
    return;
  }
  let index = 0;
  const next = (): Event | undefined => events[index++];
  const skip = (event: Event | undefined): void => {
    if (!event || (event.type !== EVENT_ID.MAPPING && event.type !== EVENT_ID.SEQUENCE)) return;
    for (let depth = 1; depth > 0 && index < events.length; ) {
      const e = next();
      if (e?.type === EVENT_ID.MAPPING || e?.type === EVENT_ID.SEQUENCE) depth++;
      else if (e?.type === EVENT_ID.POP) depth--;
    }
  };
  const node = (event: Event | undefined, path: KeyPath, key: ScalarEvent | undefined): void => {
    if (!event) return;
    visit(event, path, key);
    if (event.type === EVENT_ID.MAPPING) {
      for (;;) {
        const keyEvent = next();
        if (!keyEvent || keyEvent.type === EVENT_ID.POP) return;
        const valueEvent = next();
        if (keyEvent.type === EVENT_ID.SCALAR) {
          node(valueEvent, [...path, getScalarValue(source, keyEvent)], keyEvent);
        } else {
          skip(keyEvent);
          skip(valueEvent);
        }
      }
    } else if (event.type === EVENT_ID.SEQUENCE) {
      for (let item = 0; ; item++) {
        const itemEvent = next();
        if (!itemEvent || itemEvent.type === EVENT_ID.POP) return;
        node(itemEvent, [...path, item], undefined);
      }
    }
  };
  if (next()?.type === EVENT_ID.DOCUMENT) node(next(), [], undefined);
}

/**
 * Where every key path of a YAML document is written, built from js-yaml's event stream (offsets
 * into the source). Paths reached only through merge keys (`<<: *anchor`) are not listed; lookups
 * fall back to the nearest listed ancestor.
 */
export class PositionMap {
  private readonly entries = new Map<string, Entry>();
  private readonly lineStarts: number[] = [0];

  constructor(readonly source: string) {
    for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    const start = (event: Event): number => {
      switch (event.type) {
        case EVENT_ID.SCALAR: {
          const quoted = event.style === SCALAR_STYLE.SINGLE_QUOTED || event.style === SCALAR_STYLE.DOUBLE_QUOTED;
          const value = quoted ? event.valueStart - 1 : event.valueStart;
          return event.anchorStart >= 0 ? Math.min(event.anchorStart - 1, value) : event.tagStart >= 0 ? event.tagStart : value;
        }
        case EVENT_ID.MAPPING:
        case EVENT_ID.SEQUENCE:
          return event.start;
        case EVENT_ID.ALIAS:
          return Math.max(0, event.anchorStart - 1);
        default:
          return 0;
      }
    };
    walkYaml(source, (event, path, key) => {
      // A block scalar (| or >) starts on the next line: point at its key instead.
      const scalar =
        event.type === EVENT_ID.ALIAS ||
        (event.type === EVENT_ID.SCALAR && event.style !== SCALAR_STYLE.LITERAL_BLOCK && event.style !== SCALAR_STYLE.FOLDED_BLOCK);
      this.entries.set(pathKey(path), { key: key && start(key), value: start(event), scalar });
    });
  }

  /** 1-based line/column of a source offset. */
  positionOf(offset: number): Position {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - (this.lineStarts[low] ?? 0) + 1 };
  }

  /** The path is written in the file. */
  has(path: KeyPath): boolean {
    return this.entries.has(pathKey(path));
  }

  /**
   * Where to point for a problem at `path`: a scalar value itself, otherwise the key that
   * introduces the mapping/list; for a path not in the file, the nearest ancestor's key.
   */
  locate(path: KeyPath, prefer: "value" | "key" = "value"): Position | undefined {
    for (let length = path.length; length >= 0; length--) {
      const entry = this.entries.get(pathKey(path.slice(0, length)));
      if (!entry) continue;
      const exact = length === path.length;
      const offset = exact && prefer === "value" && entry.scalar ? entry.value : (entry.key ?? entry.value);
      return this.positionOf(offset);
    }
    return undefined;
  }
}
