import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { RegistryEvent } from "../registry/events.js";

export const eventsMediaType = "application/vnd.docker.distribution.events.v1+json";

type EndpointConfig = NonNullable<NonNullable<Config["notifications"]>["endpoints"]>[number];

/** One entry of distribution's notification envelope. */
interface Envelope {
  id: string;
  timestamp: string;
  action: "push" | "delete";
  target: { mediaType?: string; size?: number; digest?: string; repository: string; url?: string; tag?: string };
  source: { addr: string; instanceID: string };
}

/**
 * Webhook notifications (`notifications.endpoints`), in distribution's envelope format. Each
 * endpoint has its own queue, delivered in order; a failing endpoint is retried after `backoff`
 * and never slows a push. Events are kept in memory only (as in distribution).
 */
export class Notifier {
  private endpoints: EndpointQueue[] = [];
  private readonly instanceID = randomUUID();

  constructor(
    private readonly logger: Logger,
    private readonly sourceAddr = hostname(),
  ) {}

  /** Applies a (re)loaded `notifications` section; queues of endpoints that stay keep their events. */
  configure(notifications: Config["notifications"]): void {
    const wanted = (notifications?.endpoints ?? []).filter((endpoint) => !endpoint.disabled);
    const kept = new Map(this.endpoints.map((queue) => [queue.config.name, queue]));
    for (const queue of this.endpoints) if (!wanted.some((e) => e.name === queue.config.name)) queue.stop();
    this.endpoints = wanted.map((config) => {
      const queue = kept.get(config.name);
      if (queue) {
        queue.config = config;
        return queue;
      }
      return new EndpointQueue(config, this.logger);
    });
  }

  notify(event: RegistryEvent, urlBase: string): void {
    if (this.endpoints.length === 0) return;
    const envelope: Envelope = {
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      action: event.type === "manifest.put" ? "push" : "delete",
      target:
        event.type === "tag.delete"
          ? { repository: event.repository, tag: event.tag }
          : {
              repository: event.repository,
              digest: event.digest,
              url: `${urlBase}/v2/${event.repository}/manifests/${event.digest}`,
              ...(event.type === "manifest.put" ? { mediaType: event.mediaType, size: event.size, tag: event.tag } : {}),
            },
      source: { addr: this.sourceAddr, instanceID: this.instanceID },
    };
    for (const queue of this.endpoints) queue.push(envelope);
  }

  stop(): void {
    for (const queue of this.endpoints) queue.stop();
    this.endpoints = [];
  }
}

class EndpointQueue {
  private readonly pending: Envelope[] = [];
  private sending = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    public config: EndpointConfig,
    private readonly logger: Logger,
  ) {}

  push(envelope: Envelope): void {
    const ignoredTypes = [...(this.config.ignoredmediatypes ?? []), ...(this.config.ignore?.mediatypes ?? [])];
    if (envelope.target.mediaType && ignoredTypes.includes(envelope.target.mediaType)) return;
    if (this.config.ignore?.actions?.includes(envelope.action)) return;
    // Bounded: an endpoint down for days must not grow memory without limit.
    if (this.pending.length >= 10_000) this.pending.shift();
    this.pending.push(envelope);
    this.flush();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private flush(): void {
    if (this.sending || this.stopped || this.pending.length === 0 || this.timer) return;
    this.sending = true;
    const batch = this.pending.slice(0, 100);
    this.send(batch).then(
      () => {
        this.pending.splice(0, batch.length);
        this.sending = false;
        this.flush();
      },
      (error: unknown) => {
        this.sending = false;
        this.logger.warn("notification endpoint failed; retrying", { endpoint: this.config.name, error: String(error) });
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, this.config.backoff ?? 1_000);
        this.timer.unref();
      },
    );
  }

  private async send(events: Envelope[]): Promise<void> {
    const headers: Record<string, string> = { "Content-Type": eventsMediaType };
    for (const [name, values] of Object.entries(this.config.headers ?? {})) headers[name] = values.join(", ");
    const res = await fetch(this.config.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ events }),
      signal: AbortSignal.timeout(this.config.timeout ?? 1_000),
    });
    await res.body?.cancel();
    if (res.status < 200 || res.status >= 400) throw new Error(`answered ${res.status}`);
  }
}
