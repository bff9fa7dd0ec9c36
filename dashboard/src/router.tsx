import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

// A few lines of history-API routing: the app has a handful of pages, not worth a dependency.

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

addEventListener('popstate', () => {
  for (const l of listeners) l();
});

/** The current path and query, re-rendering on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Match `/p/:project/d/:id` against a path: the params, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const names: string[] = [];
  const re = new RegExp(
    `^${pattern.replace(/:(\w+)/g, (_m, n: string) => {
      names.push(n);
      return '([^/]+)';
    })}/?$`,
  );
  const m = re.exec(path);
  if (m === null) return null;
  const out: Record<string, string> = {};
  for (const [i, n] of names.entries()) out[n] = decodeURIComponent(m[i + 1] ?? '');
  return out;
}

type LinkProps = { href: string; children?: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined };

/** An <a> that navigates in the app (a middle click or ctrl-click still opens a tab). */
export function Link({ href, children, ...rest }: LinkProps) {
  const onClick = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
