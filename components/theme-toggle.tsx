"use client";

import { useEffect, useState } from "react";

type Theme = "system" | "light" | "dark";

export const themeStorageKey = "berth-theme";

/**
 * Runs before the first paint (inlined in the layout's <head>): the `dark` class from the stored
 * choice, else from `prefers-color-scheme`, so pages never flash the wrong colours.
 */
export const themeScript = `(function(){try{var t=localStorage.getItem("${themeStorageKey}");var d=t==="dark"||(t!=="light"&&window.matchMedia("(prefers-color-scheme: dark)").matches);document.documentElement.classList.toggle("dark",d);document.documentElement.style.colorScheme=d?"dark":"light";}catch(e){}})();`;

function apply(theme: Theme): void {
  const dark = theme === "dark" || (theme === "system" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.classList.toggle("dark", dark);
  document.documentElement.style.colorScheme = dark ? "dark" : "light";
}

const next: Record<Theme, Theme> = { system: "light", light: "dark", dark: "system" };
const labels: Record<Theme, string> = { system: "Auto", light: "Light", dark: "Dark" };
const icons: Record<Theme, string> = { system: "◐", light: "☀", dark: "☾" };

/** Cycles system → light → dark; "system" follows the OS setting live. */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>("system");

  useEffect(() => {
    const stored = localStorage.getItem(themeStorageKey);
    // Reading the stored choice once after hydration (the server cannot know it).
    if (stored === "light" || stored === "dark") setTheme(stored);
  }, []);

  useEffect(() => {
    apply(theme);
    if (theme !== "system") return;
    const media = window.matchMedia("(prefers-color-scheme: dark)");
    const follow = () => apply("system");
    media.addEventListener("change", follow);
    return () => media.removeEventListener("change", follow);
  }, [theme]);

  const choose = () => {
    const chosen = next[theme];
    if (chosen === "system") localStorage.removeItem(themeStorageKey);
    else localStorage.setItem(themeStorageKey, chosen);
    setTheme(chosen);
  };

  return (
    <button
      type="button"
      onClick={choose}
      title={`Theme: ${labels[theme]} (click for ${labels[next[theme]]})`}
      aria-label={`Theme: ${labels[theme]}. Switch to ${labels[next[theme]]}`}
      data-testid="theme-toggle"
      className="rounded border border-slate-300 px-2 py-1 text-sm text-slate-700 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-sky-500 dark:border-slate-600 dark:text-slate-200 dark:hover:bg-slate-800"
    >
      <span aria-hidden="true">{icons[theme]}</span> {labels[theme]}
    </button>
  );
}
