/** What one mirror served since this instance started, for Prometheus and the console. */
export interface MirrorCounts {
  /** Manifests and blobs answered from the cache. */
  hits: number;
  /** Manifests and blobs fetched from the upstream. */
  misses: number;
  /** Upstream requests that failed (unreachable, refused, answered with an error). */
  upstreamErrors: number;
  /** Blob bytes sent to clients from the cache. */
  bytesFromCache: number;
  /** Blob bytes fetched from the upstream. */
  bytesFetched: number;
}

export class MirrorStats {
  private readonly counts = new Map<string, MirrorCounts>();

  of(id: string): MirrorCounts {
    let counts = this.counts.get(id);
    if (!counts) {
      counts = { hits: 0, misses: 0, upstreamErrors: 0, bytesFromCache: 0, bytesFetched: 0 };
      this.counts.set(id, counts);
    }
    return counts;
  }

  snapshot(): { id: string; counts: MirrorCounts }[] {
    return [...this.counts].map(([id, counts]) => ({ id, counts: { ...counts } }));
  }
}
