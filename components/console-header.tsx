"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useCan, useMaintenance, useRegistryHost, useSignedIn } from "./hooks";
import { ThemeToggle } from "./theme-toggle";
import { cx } from "./ui";
import { UserMenu } from "./user-menu";

/** `adminOnly`: shown to admins only (server/console-auth/page-guard.ts refuses the page to the others). */
const links: { href: string; label: string; adminOnly?: true }[] = [
  { href: "/", label: "Dashboard" },
  { href: "/repositories", label: "Repositories" },
  { href: "/cleanup", label: "Cleanup" },
  { href: "/gc", label: "Garbage collection" },
  { href: "/config", label: "Configuration", adminOnly: true },
  { href: "/auth", label: "Auth" },
  { href: "/users", label: "Users", adminOnly: true },
  { href: "/activity", label: "Activity" },
];

function isActive(pathname: string, href: string): boolean {
  return href === "/" ? pathname === "/" : pathname === href || pathname.startsWith(`${href}/`);
}

/** The console's header: registry host, navigation, theme, user; the maintenance banner below. */
export function ConsoleHeader() {
  const signedIn = useSignedIn();
  const pathname = usePathname();
  const host = useRegistryHost();
  const isAdmin = useCan("admin");
  const shown = links.filter((link) => !link.adminOnly || isAdmin);
  return (
    <>
      <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-6xl items-center gap-x-3 gap-y-2 px-4 py-3 sm:gap-x-4 sm:px-6">
          <Link href="/" className="flex shrink-0 items-center gap-2 text-lg font-semibold tracking-tight">
            <img src="/icon.svg" alt="" width={24} height={24} />
            Berth
          </Link>
          {signedIn && host ? (
            <span className="hidden min-w-0 truncate rounded bg-slate-100 px-2 py-0.5 font-mono text-xs text-slate-600 sm:inline dark:bg-slate-800 dark:text-slate-300" title="Registry host" data-testid="registry-host">
              {host}
            </span>
          ) : (
            <span className="hidden text-sm text-slate-500 sm:inline dark:text-slate-400">registry console</span>
          )}
          <div className="ml-auto flex items-center gap-3">
            <ThemeToggle />
            <UserMenu />
          </div>
        </div>
        {signedIn ? (
          <nav aria-label="Main" className="mx-auto max-w-6xl overflow-x-auto overflow-y-hidden px-2 sm:px-4">
            {/* One row that scrolls sideways on a phone rather than wrapping into three. */}
            <ul className="-mb-px flex gap-1 whitespace-nowrap text-sm">
              {shown.map((link) => {
                const active = isActive(pathname, link.href);
                return (
                  <li key={link.href}>
                    <Link
                      href={link.href}
                      aria-current={active ? "page" : undefined}
                      className={cx(
                        "inline-block border-b-2 px-2 py-2 focus-visible:outline-2 focus-visible:outline-sky-500",
                        active
                          ? "border-sky-600 font-medium text-slate-900 dark:border-sky-400 dark:text-white"
                          : "border-transparent text-slate-600 hover:border-slate-300 hover:text-slate-900 dark:text-slate-400 dark:hover:text-white",
                      )}
                    >
                      {link.label}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
        ) : null}
      </header>
      {signedIn ? <MaintenanceBanner /> : null}
    </>
  );
}

/** On every page while the registry is read-only or a garbage collection runs. */
function MaintenanceBanner() {
  const { running, readOnly } = useMaintenance();
  if (!running && !readOnly?.readOnly) return null;
  const progress = running?.progress;
  let text: string;
  if (running) {
    const phase =
      running.phase === "waiting-for-writes"
        ? "waiting for writes in progress"
        : `${running.phase}${progress ? ` ${progress.done.toLocaleString("en-US")}/${progress.total.toLocaleString("en-US")}` : ""}`;
    text = running.dryRun
      ? `Garbage collection dry run by ${running.owner} (${phase}). The registry stays writable.`
      : `Read-only: garbage collection by ${running.owner} is running (${phase}). Pushes and deletes are refused until it ends.`;
  } else if (readOnly?.source === "config") {
    text = "Read-only: storage.maintenance.readonly is enabled in the configuration. Pushes and deletes are refused.";
  } else {
    const flag = readOnly?.flag;
    text = `Read-only${flag?.owner ? ` (set by ${flag.owner}${flag.reason ? `: ${flag.reason}` : ""})` : ""}. Pushes and deletes are refused.`;
  }
  return (
    <div
      role="status"
      data-testid="maintenance-banner"
      className={cx(
        "border-b px-6 py-2 text-center text-sm font-medium",
        running?.dryRun
          ? "border-sky-200 bg-sky-50 text-sky-900 dark:border-sky-900 dark:bg-sky-950 dark:text-sky-100"
          : "border-amber-300 bg-amber-100 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100",
      )}
    >
      {text}{" "}
      {running ? (
        <Link href="/gc" className="underline">
          See progress
        </Link>
      ) : null}
    </div>
  );
}
