import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Skeleton } from '../components';
import { Link, navigate, useLocation } from '../router';
import type { AccessLine, LogPage, ServerLine } from '../types';

/** rows kept on screen: the newest; older ones are in the API (`?since=`) and the drain */
const KEEP = 500;
const POLL_MS = 2000;

type Kind = 'access' | 'server';

/**
 * A project's requests (the edge's access log) or its SSR servers' output, newest first,
 * following new entries every two seconds until paused. `?deployment=` narrows it to one
 * deployment (the deployment page links here).
 */
export function LogsPage({ project: name }: { project: string }) {
  const { query } = useLocation();
  const kind: Kind = query.get('type') === 'server' ? 'server' : 'access';
  const deployment = query.get('deployment') ?? '';
  const [lines, setLines] = useState<(AccessLine | ServerLine)[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [paused, setPaused] = useState(false);
  const cursor = useRef<{ key: string; next: string | undefined }>({ key: '', next: undefined });
  const key = `${name}\n${kind}\n${deployment}`;

  useEffect(() => {
    if (cursor.current.key !== key) {
      cursor.current = { key, next: undefined };
      setLines(null);
      setError(null);
    }
    if (paused && cursor.current.next !== undefined) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      const q = new URLSearchParams({ type: kind });
      if (deployment !== '') q.set('deployment', deployment);
      const next = cursor.current.next;
      if (next === undefined) q.set('tail', '100');
      else q.set('since', next);
      try {
        const r = await api<LogPage>('GET', `/projects/${encodeURIComponent(name)}/logs?${q}`);
        if (stopped) return;
        cursor.current.next = r.next;
        setLines((cur) => [...r.lines.reverse(), ...(next === undefined ? [] : (cur ?? []))].slice(0, KEEP));
        setError(null);
      } catch (err) {
        if (!stopped) setError(err);
      }
      if (!stopped && !paused) timer = setTimeout(load, POLL_MS);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [key, paused]);

  const show = (type: Kind, only = deployment) => {
    const q = new URLSearchParams();
    if (type === 'server') q.set('type', 'server');
    if (only !== '') q.set('deployment', only);
    return `/p/${name}/logs${q.size > 0 ? `?${q}` : ''}`;
  };

  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/">Projects</Link> / <Link href={`/p/${name}`}>{name}</Link> / <span aria-current="page">Logs</span>
      </nav>
      <div class="row between wrap-row">
        <h1>Logs</h1>
        <div class="row">
          <span class={`live ${paused ? 'paused' : 'live'}`} role="status">
            {paused ? 'Paused' : 'Following'}
          </span>
          <button type="button" class="secondary" onClick={() => setPaused(!paused)}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        </div>
      </div>
      <nav class="tabs logs-tabs" aria-label="Log type">
        <Link href={show('access')} aria-current={kind === 'access' ? 'page' : undefined}>
          Requests
        </Link>
        <Link href={show('server')} aria-current={kind === 'server' ? 'page' : undefined}>
          Server output
        </Link>
      </nav>
      {deployment !== '' && (
        <p class="muted small">
          Deployment <code>{deployment}</code> only ·{' '}
          <a
            href={show(kind, '')}
            onClick={(e) => {
              e.preventDefault();
              navigate(show(kind, ''));
            }}
          >
            all deployments
          </a>
        </p>
      )}
      <ErrorBox error={error} title="Could not load the logs" />
      {lines === null ? (
        error === null && <Skeleton rows={6} />
      ) : lines.length === 0 ? (
        <p class="empty">
          {kind === 'access'
            ? 'No requests yet. Requests to the project’s sites appear here within a few seconds.'
            : 'No server output. Lines that server-rendered deployments print appear here; static sites have none.'}
        </p>
      ) : kind === 'access' ? (
        <AccessTable lines={lines as AccessLine[]} project={name} />
      ) : (
        <ServerOutput lines={lines as ServerLine[]} project={name} />
      )}
    </section>
  );
}

function time(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour12: false });
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function DeploymentLink({ id, project }: { id: string; project: string }) {
  if (id === '') return <span class="muted">none</span>;
  return (
    <Link href={`/p/${project}/d/${id}`} class="mono">
      {id.slice(0, 10)}
    </Link>
  );
}

function AccessTable({ lines, project }: { lines: AccessLine[]; project: string }) {
  return (
    <div class="table-wrap">
      <table class="logs" aria-label="Requests">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Status</th>
            <th scope="col">Request</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col" class="num">
              Duration
            </th>
            <th scope="col">Deployment</th>
          </tr>
        </thead>
        <tbody>
          {lines.map((l) => (
            <tr key={l.id} class="log-row">
              <td class="nowrap mono small" title={new Date(l.at).toLocaleString()}>
                {time(l.at)}
              </td>
              <td>
                <span class={`http-status s${Math.floor(l.status / 100)}xx`}>{l.status}</span>
              </td>
              <td class="min0 request">
                <span class="mono small">{l.method}</span> <span class="mono small path">{l.path}</span>
                <div class="muted small ellipsis">
                  {l.host} · {l.clientIp}
                </div>
              </td>
              <td class="num nowrap small">{size(l.bytes)}</td>
              <td class="num nowrap small">{l.durationMs < 10 ? l.durationMs.toFixed(1) : Math.round(l.durationMs)} ms</td>
              <td class="small">
                <DeploymentLink id={l.deploymentId} project={project} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ServerOutput({ lines, project }: { lines: ServerLine[]; project: string }) {
  return (
    <ol class="server-output" aria-label="Server output">
      {lines.map((l) => (
        <li key={l.id}>
          <span class="when">{time(l.at)}</span> <DeploymentLink id={l.deploymentId} project={project} /> <span class="text">{l.text}</span>
        </li>
      ))}
    </ol>
  );
}
