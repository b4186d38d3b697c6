import { hostname } from "node:os";
import type { Transporter } from "nodemailer";
import { parseListenAddress } from "./config/address.js";
import type { LogEntry, LogFields, LogHook, LogLevel } from "./log.js";

/** distribution's `log.hooks[].options` for `type: mail`. */
export interface MailSettings {
  /** `host:port`; port 465 is TLS from the first byte, any other port upgrades with STARTTLS when offered. */
  addr: string;
  username?: string;
  password?: string;
  /** Skips certificate verification, and lets credentials go over a connection without TLS. */
  insecure?: boolean;
  from: string;
  to: string[];
}

export interface MailHookOptions {
  levels: ReadonlySet<LogLevel>;
  mail: MailSettings;
  /** Where failed sends are reported: a logger without this hook, so a failure cannot mail itself. */
  onFailure: (msg: string, fields: LogFields) => void;
  /** How long the first entry waits for others to join its mail. */
  batchMs?: number;
  /** The least time between two mails: an error storm sends one mail per interval, not one per line. */
  intervalMs?: number;
  /** Entries one mail holds; the rest of a storm is counted, not queued. */
  maxEntries?: number;
}

/** How long `close` waits for the last mail before giving up on it. */
const closeWaitMs = 5_000;

/**
 * Mails log entries of the listed levels, batched and rate-limited. `fire` only queues, so
 * logging never waits for SMTP; a failed send is reported once per attempt and dropped.
 */
export class MailHook implements LogHook {
  readonly levels: ReadonlySet<LogLevel>;
  // nodemailer (~15 MiB resident) is loaded only by a process that has a mail hook.
  private readonly transport: Promise<Transporter>;
  private readonly batchMs: number;
  private readonly intervalMs: number;
  private readonly maxEntries: number;
  private pending: LogEntry[] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private lastAttempt = -Infinity;
  private closed = false;

  constructor(private readonly options: MailHookOptions) {
    this.levels = options.levels;
    this.batchMs = options.batchMs ?? 1_000;
    this.intervalMs = options.intervalMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 100;
    this.transport = createTransport(options.mail);
    // A transport that cannot be made fails each send, which reports it; it must not crash the process first.
    this.transport.catch(() => undefined);
  }

  fire(entry: LogEntry): void {
    if (this.closed) return;
    if (this.pending.length < this.maxEntries) this.pending.push(entry);
    else this.dropped += 1;
    this.schedule();
  }

  /** Sends what is queued (waiting at most a few seconds) and closes the SMTP transport. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sending;
    if (this.pending.length > 0) this.flush();
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([this.sending, new Promise((resolve) => (timeout = setTimeout(resolve, closeWaitMs)))]);
    clearTimeout(timeout);
    (await this.transport.catch(() => undefined))?.close();
  }

  private schedule(): void {
    if (this.timer || this.sending || this.closed) return;
    const wait = Math.max(this.batchMs, this.lastAttempt + this.intervalMs - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
    // A queued mail does not keep a finished process alive.
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    const entries = this.pending;
    const dropped = this.dropped;
    this.pending = [];
    this.dropped = 0;
    this.lastAttempt = Date.now();
    this.sending = this.send(entries, dropped)
      .catch((error: unknown) => {
        const lost = entries.length + dropped;
        this.options.onFailure("log mail not sent", { addr: this.options.mail.addr, entries: lost, error: String(error) });
      })
      .finally(() => {
        this.sending = undefined;
        if (this.pending.length > 0) this.schedule();
      });
  }

  private async send(entries: LogEntry[], dropped: number): Promise<void> {
    const first = entries[0];
    if (!first) return;
    const more = entries.length - 1 + dropped;
    const subject = `[${first.level}] ${hostname()}: ${first.msg}${more > 0 ? ` (and ${more} more)` : ""}`;
    const body = entries.map(describe).join("\n\n") + (dropped > 0 ? `\n\n${dropped} more entries were not included.\n` : "\n");
    await (await this.transport).sendMail({
      from: this.options.mail.from,
      to: this.options.mail.to,
      // A log message can hold anything; a line break must not start a new header.
      subject: subject.replace(/[\r\n]+/g, " "),
      text: body,
    });
  }
}

function describe(entry: LogEntry): string {
  const fields = Object.entries(entry.fields).map(([key, value]) => `  ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  return [`${entry.time} ${entry.level} ${entry.msg}`, ...fields].join("\n");
}

async function createTransport(mail: MailSettings): Promise<Transporter> {
  const { default: nodemailer } = await import("nodemailer");
  const { host = "localhost", port } = parseListenAddress(mail.addr);
  const auth = mail.username ? { user: mail.username, pass: mail.password ?? "" } : undefined;
  return nodemailer.createTransport({
    host,
    port,
    secure: port === 465,
    auth,
    // Credentials only over TLS unless `insecure` says otherwise (Go's smtp.PlainAuth, which
    // distribution uses, refuses them in the clear too).
    requireTLS: auth !== undefined && mail.insecure !== true,
    tls: { rejectUnauthorized: mail.insecure !== true },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
}
