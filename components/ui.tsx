"use client";

import { useEffect, useRef, useState, type ButtonHTMLAttributes, type ReactNode } from "react";

/** Small building blocks shared by the console pages: cards, buttons, badges, dialogs, tables. */

export function cx(...classes: (string | false | null | undefined)[]): string {
  return classes.filter(Boolean).join(" ");
}

export function PageHeader({ title, subtitle, actions }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="mb-6 flex flex-wrap items-end gap-4">
      <div className="min-w-0 flex-1">
        <h1 className="break-words text-2xl font-semibold tracking-tight">{title}</h1>
        {subtitle ? <div className="mt-1 text-sm text-slate-500 dark:text-slate-400">{subtitle}</div> : null}
      </div>
      {actions ? <div className="flex min-w-0 max-w-full flex-wrap items-center gap-2">{actions}</div> : null}
    </div>
  );
}

export function Card({
  title,
  children,
  className,
  actions,
  id,
}: {
  title?: ReactNode;
  children: ReactNode;
  className?: string;
  actions?: ReactNode;
  id?: string;
}) {
  const headingId = id ? `${id}-title` : undefined;
  return (
    <section
      id={id}
      aria-labelledby={headingId}
      className={cx("rounded-lg border border-slate-200 bg-white p-5 shadow-sm dark:border-slate-700 dark:bg-slate-900", className)}
    >
      {title || actions ? (
        <div className="mb-3 flex flex-wrap items-center gap-3">
          {title ? (
            <h2 id={headingId} className="text-sm font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">
              {title}
            </h2>
          ) : null}
          {actions ? <div className="ml-auto flex flex-wrap items-center gap-2">{actions}</div> : null}
        </div>
      ) : null}
      {children}
    </section>
  );
}

type Variant = "primary" | "secondary" | "danger" | "ghost";

const variants: Record<Variant, string> = {
  primary: "bg-slate-900 text-white hover:bg-slate-700 dark:bg-sky-600 dark:hover:bg-sky-500",
  secondary:
    "border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-100 dark:hover:bg-slate-700",
  danger: "bg-red-700 text-white hover:bg-red-600 dark:bg-red-600 dark:hover:bg-red-500",
  ghost: "text-slate-700 hover:bg-slate-100 dark:text-slate-200 dark:hover:bg-slate-800",
};

export function Button({
  variant = "secondary",
  size = "md",
  className,
  type = "button",
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; size?: "sm" | "md" }) {
  return (
    <button
      type={type}
      className={cx(
        "inline-flex items-center justify-center gap-1.5 rounded font-medium transition-colors focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-500 disabled:cursor-not-allowed disabled:opacity-50",
        size === "sm" ? "px-2 py-1 text-xs" : "px-3 py-1.5 text-sm",
        variants[variant],
        className,
      )}
      {...props}
    />
  );
}

type Tone = "neutral" | "good" | "warn" | "bad" | "info";

const tones: Record<Tone, string> = {
  neutral: "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200",
  good: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
  warn: "bg-amber-100 text-amber-900 dark:bg-amber-900/60 dark:text-amber-200",
  bad: "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
  info: "bg-sky-100 text-sky-800 dark:bg-sky-900/60 dark:text-sky-200",
};

export function Badge({ tone = "neutral", children, className, ...rest }: { tone?: Tone; children: ReactNode; className?: string; "data-testid"?: string }) {
  return (
    <span className={cx("inline-flex items-center rounded px-1.5 py-0.5 text-xs font-medium", tones[tone], className)} {...rest}>
      {children}
    </span>
  );
}

export function ErrorBox({ error, title = "Something went wrong" }: { error: { message: string } | null | undefined; title?: string }) {
  if (!error) return null;
  return (
    <div role="alert" className="rounded border border-red-300 bg-red-50 px-4 py-3 text-sm text-red-800 dark:border-red-800 dark:bg-red-950/50 dark:text-red-200">
      <span className="font-medium">{title}: </span>
      {error.message}
    </div>
  );
}

/** In place of actions the user's role does not allow (the API refuses them anyway). */
export function NeedsRole({ role, what }: { role: "maintainer" | "admin"; what: string }) {
  return (
    <p className="text-sm text-slate-500 dark:text-slate-400" data-testid="needs-role">
      {what} needs the {role} role.
    </p>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="py-6 text-sm text-slate-500 dark:text-slate-400" role="status">
      {label}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="py-6 text-center text-sm text-slate-500 dark:text-slate-400">{children}</p>;
}

/** A <dl> of label/value pairs. */
export function Facts({ items, columns = 4 }: { items: [ReactNode, ReactNode][]; columns?: 2 | 3 | 4 }) {
  const grid = columns === 2 ? "sm:grid-cols-2" : columns === 3 ? "sm:grid-cols-3" : "sm:grid-cols-4";
  return (
    <dl className={cx("grid grid-cols-1 gap-x-6 gap-y-3 text-sm", grid)}>
      {items.map(([label, value], index) => (
        <div key={index} className="min-w-0">
          <dt className="text-slate-500 dark:text-slate-400">{label}</dt>
          <dd className="mt-0.5 break-words">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function CopyIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 16 16" className="h-3.5 w-3.5" fill="none" stroke="currentColor" strokeWidth="1.5">
      <rect x="5.5" y="5.5" width="8" height="8" rx="1.5" />
      <path d="M10.5 5.5V3.5a1.5 1.5 0 0 0-1.5-1.5H4A1.5 1.5 0 0 0 2.5 3.5V9A1.5 1.5 0 0 0 4 10.5h1.5" />
    </svg>
  );
}

/** Copies `text`; says so for a moment. `label: null` shows an icon only. */
export function CopyButton({ text, label = "Copy", title, className }: { text: string; label?: string | null; title?: string; className?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(timer);
  }, [copied]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Without the clipboard API (plain http on another host): select-and-copy fallback.
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
  };
  return (
    <Button size="sm" variant="ghost" onClick={copy} title={title ?? `Copy ${text}`} aria-label={title ?? `Copy ${text}`} className={className}>
      <span aria-live="polite">{copied ? "Copied" : label === null ? <CopyIcon /> : label}</span>
    </Button>
  );
}

/** A digest shortened to 12 hex digits with a copy button for the full one. */
export function Digest({ digest, copy = true }: { digest: string; copy?: boolean }) {
  return (
    <span className="inline-flex items-center gap-1 whitespace-nowrap">
      <code className="font-mono text-xs" title={digest}>
        {digest.replace(/^(\w+:)(\w{12})\w*$/, "$1$2")}
      </code>
      {copy ? <CopyButton text={digest} label={null} title={`Copy digest ${digest}`} className="px-1" /> : null}
    </span>
  );
}

/**
 * A modal dialog on the native <dialog> element: focus moves into it, Tab stays inside, Escape
 * closes it, and focus returns to where it was.
 */
export function Dialog({
  open,
  onClose,
  title,
  children,
  footer,
  wide,
}: {
  open: boolean;
  onClose: () => void;
  title: ReactNode;
  children: ReactNode;
  footer?: ReactNode;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      onClose={onClose}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
      aria-labelledby="dialog-title"
      className={cx(
        "m-auto w-[calc(100%-2rem)] rounded-lg border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-slate-900/50 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100",
        wide ? "max-w-3xl" : "max-w-lg",
      )}
    >
      {open ? (
        <div className="flex max-h-[85vh] flex-col">
          <h2 id="dialog-title" className="border-b border-slate-200 px-5 py-3 text-lg font-semibold dark:border-slate-700">
            {title}
          </h2>
          <div className="overflow-y-auto px-5 py-4 text-sm">{children}</div>
          {footer ? <div className="flex justify-end gap-2 border-t border-slate-200 px-5 py-3 dark:border-slate-700">{footer}</div> : null}
        </div>
      ) : null}
    </dialog>
  );
}

/** A sortable column header: a button, with aria-sort on the <th>. */
export function SortHeader<K extends string>({
  label,
  column,
  sort,
  order,
  onSort,
  className,
}: {
  label: string;
  column: K;
  sort: K;
  order: "asc" | "desc";
  onSort: (column: K) => void;
  className?: string;
}) {
  const active = sort === column;
  return (
    <th scope="col" aria-sort={active ? (order === "asc" ? "ascending" : "descending") : "none"} className={cx(thClass, className)}>
      <button
        type="button"
        onClick={() => onSort(column)}
        className="inline-flex items-center gap-1 rounded uppercase tracking-wide hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-sky-500 dark:hover:text-white"
      >
        {label}
        <span aria-hidden="true" className={active ? "" : "opacity-30"}>
          {active && order === "asc" ? "▲" : "▼"}
        </span>
      </button>
    </th>
  );
}

/**
 * The box around a table that scrolls it sideways on a narrow screen. `relative`: the sr-only
 * header cells are absolutely positioned, and without a positioned ancestor inside the scroller
 * they escape it and widen the whole page.
 */
export const tableScrollClass = "relative overflow-x-auto";
export const tableClass = "w-full border-collapse text-left text-sm";
export const thClass = "border-b border-slate-200 px-3 py-2 text-xs font-medium uppercase tracking-wide text-slate-500 dark:border-slate-700 dark:text-slate-400";
export const tdClass = "border-b border-slate-100 px-3 py-2 align-top dark:border-slate-800";
export const rowClass = "hover:bg-slate-50 focus-within:bg-slate-50 dark:hover:bg-slate-800/60 dark:focus-within:bg-slate-800/60";
export const inputClass =
  "rounded border border-slate-300 bg-white px-3 py-1.5 text-sm text-slate-900 placeholder:text-slate-400 focus:border-sky-500 focus:outline-none focus:ring-2 focus:ring-sky-500/30 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-100";
export const linkClass = "font-medium text-sky-700 hover:underline focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400";

/** Previous/next paging with "1–50 of 1,234". */
export function Pager({
  offset,
  limit,
  total,
  onOffset,
}: {
  offset: number;
  limit: number;
  total: number;
  onOffset: (offset: number) => void;
}) {
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(total, offset + limit);
  return (
    <nav aria-label="Pages" className="mt-3 flex items-center gap-3 text-sm">
      <span className="text-slate-500 dark:text-slate-400" data-testid="pager-range">
        {first.toLocaleString("en-US")}–{last.toLocaleString("en-US")} of {total.toLocaleString("en-US")}
      </span>
      <div className="ml-auto flex gap-2">
        <Button size="sm" onClick={() => onOffset(0)} disabled={offset === 0} aria-label="First page">
          « First
        </Button>
        <Button size="sm" onClick={() => onOffset(Math.max(0, offset - limit))} disabled={offset === 0}>
          ‹ Previous
        </Button>
        <Button size="sm" onClick={() => onOffset(offset + limit)} disabled={offset + limit >= total}>
          Next ›
        </Button>
      </div>
    </nav>
  );
}

/** A value that follows `value` after `ms` without changes (for search boxes). */
export function useDebounced<T>(value: T, ms = 250): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/** A horizontal bar for charts: `value` of `max`. */
export function Bar({ value, max, className }: { value: number; max: number; className?: string }) {
  const percent = max > 0 ? Math.max(0.5, Math.min(100, (value / max) * 100)) : 0;
  return (
    <div className="h-2.5 w-full overflow-hidden rounded bg-slate-100 dark:bg-slate-800" aria-hidden="true">
      <div className={cx("h-full rounded bg-sky-600 dark:bg-sky-500", className)} style={{ width: `${percent}%` }} />
    </div>
  );
}
