import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import type { Status } from './types';

/** An error as the API gave it: its message, its hint (what to do), and its code for a search. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  const e = error instanceof ApiError ? error : new ApiError(0, 'ERROR', error instanceof Error ? error.message : String(error));
  return (
    <div class="error" role="alert">
      <strong>{title ?? 'Something went wrong'}</strong>
      <p>{e.message}</p>
      {e.hint !== undefined && <p class="hint">{e.hint}</p>}
      {e.code !== 'ERROR' && <p class="muted small">Code: {e.code}</p>}
    </div>
  );
}

/** Load data for a page: `const [data, error, reload, setData] = useAsync(() => api(...), [deps])`. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): [T | undefined, unknown, () => void, (v: T) => void] {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    load().then(
      (v) => live && setData(v),
      (e: unknown) => live && setError(e),
    );
    return () => void (live = false);
  }, [...deps, n]);
  return [data, error, useCallback(() => setN((x) => x + 1), []), setData];
}

/** `awaiting-approval` -> `Awaiting approval` */
export function statusLabel(status: string): string {
  const words = status.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function StatusBadge({ status }: { status: Status | string }) {
  return (
    <span class={`badge s-${status}`}>
      <span class="dot" aria-hidden="true" />
      {statusLabel(status)}
    </span>
  );
}

/** A button that copies `text`, saying so for a moment (and to screen readers). */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // no clipboard permission (plain http): select a hidden field and copy the old way
      const t = document.createElement('textarea');
      t.value = text;
      document.body.append(t);
      t.select();
      document.execCommand('copy');
      t.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" class="secondary small-btn" onClick={copy} aria-live="polite">
      {copied ? 'Copied' : label}
    </button>
  );
}

/** A value shown once, in a read-only field with its copy button. */
export function Secret({ label, value }: { label: string; value: string }) {
  const id = `secret-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <div class="row">
        <input id={id} readOnly value={value} class="mono grow" onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        <CopyButton text={value} />
      </div>
    </div>
  );
}

interface ConfirmProps {
  /** what the button says, e.g. "Roll back" */
  label: string;
  title: string;
  children: ComponentChildren;
  onConfirm: () => Promise<unknown>;
  danger?: boolean;
  class?: string;
}

/**
 * A button whose action asks first, in a modal <dialog> (the browser traps focus and closes it on
 * Escape). Errors from the action are shown in the dialog, not lost.
 */
export function ConfirmButton({ label, title, children, onConfirm, danger, class: cls }: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const open = () => {
    setError(null);
    ref.current?.showModal();
  };
  const confirm = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      ref.current?.close();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class={cls ?? (danger === true ? 'danger' : 'secondary')} onClick={open}>
        {label}
      </button>
      <dialog ref={ref} aria-labelledby={`dlg-${label}`}>
        <form method="dialog" onSubmit={confirm}>
          <h2 id={`dlg-${label}`}>{title}</h2>
          <div>{children}</div>
          <ErrorBox error={error} />
          <div class="row end">
            <button type="button" class="secondary" onClick={() => ref.current?.close()}>
              Cancel
            </button>
            <button type="submit" class={danger === true ? 'danger' : ''} disabled={busy}>
              {busy ? 'Working…' : label}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** Placeholder rows of the same height as the real ones, so nothing jumps when data arrives. */
export function Skeleton({ rows = 3 }: { rows?: number }) {
  return (
    <div role="status" aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} class="skeleton" />
      ))}
    </div>
  );
}

/** A relative time that stays current without re-rendering the page every second. */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function ExternalLink({ href, children }: { href: string; children?: ComponentChildren }) {
  return (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {children ?? href.replace(/^https?:\/\//, '')}
    </a>
  );
}
