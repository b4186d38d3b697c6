/**
 * What changed in the registry, emitted by the stores themselves so every path (the API, the
 * console's soft delete, cleanup, GC) is seen by listeners: the console's metadata index,
 * notifications.
 */
export type RegistryEvent =
  | { type: "manifest.put"; repository: string; digest: string; mediaType: string; size: number; tag?: string }
  | { type: "manifest.delete"; repository: string; digest: string }
  | { type: "tag.delete"; repository: string; tag: string };

export type RegistryListener = (event: RegistryEvent) => void;

export class RegistryEvents {
  private readonly listeners = new Set<RegistryListener>();

  /** Returns the function that removes the listener. */
  subscribe(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: RegistryEvent): void {
    for (const listener of this.listeners) {
      // A failing listener must not fail the push that triggered it.
      try {
        listener(event);
      } catch {
        // listeners log their own failures
      }
    }
  }
}
