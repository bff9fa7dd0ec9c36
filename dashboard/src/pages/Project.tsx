import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, stream } from '../api';
import { ErrorBox, ExternalLink, Skeleton, StatusBadge, useAsync, useNow } from '../components';
import { ago, cacheLabel, deploymentDuration, duration, firstLine, shortSha } from '../format';
import { Link, navigate, useLocation } from '../router';
import { canWrite } from '../session';
import type { Deployment, Project } from '../types';

const STATUSES = ['queued', 'building', 'deploying', 'ready', 'awaiting-approval', 'rejected', 'failed', 'canceled'];
/** the first screenful comes fast; "Load more" asks for the rest (the API answers up to 200 a request) */
const FIRST_PAGE = 50;
const MAX_PAGE = 200;

/** Add a page of older deployments to what is shown (live events may have put some there already). */
function merge(cur: Deployment[] | null, page: Deployment[]): Deployment[] {
  if (cur === null) return page;
  const seen = new Set(cur.map((d) => d.id));
  return [...cur, ...page.filter((d) => !seen.has(d.id))];
}

/** Keep the list newest first, one row per id. */
function upsert(list: Deployment[], d: Deployment): Deployment[] {
  const i = list.findIndex((x) => x.id === d.id);
  if (i >= 0) return list.map((x) => (x.id === d.id ? d : d.isProduction ? { ...x, isProduction: false } : x));
  return [d, ...list];
}

/** Deployments of a project, live over SSE, filtered by branch and status (kept in the URL). */
export function ProjectPage({ project: name }: { project: string }) {
  const { query } = useLocation();
  const branch = query.get('branch') ?? '';
  const status = query.get('status') ?? '';
  const now = useNow();
  const enc = encodeURIComponent(name);
  const [project, projectError] = useAsync(() => api<Project>('GET', `/projects/${enc}`), [name]);
  const [list, setList] = useState<Deployment[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  /** no cursor from the API, but the first page was full: more can be had by asking for a bigger page */
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<'connecting' | 'live' | 'retrying'>('connecting');
  const [deployError, setDeployError] = useState<unknown>(null);

  /** every branch seen in a page, so the branch menu keeps them while one is picked */
  const [knownBranches, setKnownBranches] = useState<string[]>([]);
  // the server filters, so every page is full of matching deployments (and a cursor pages within the filter)
  const filters = `${branch === '' ? '' : `&branch=${encodeURIComponent(branch)}`}${status === '' ? '' : `&status=${encodeURIComponent(status)}`}`;
  const learnBranches = (page: Deployment[]) =>
    setKnownBranches((cur) => {
      const next = new Set(cur);
      for (const d of page) if (d.branch !== null) next.add(d.branch);
      return next.size === cur.length ? cur : [...next].sort();
    });

  /** the project the list shows: a filter change keeps it (filtered here) until the server's page arrives */
  const listed = useRef<string | null>(null);
  useEffect(() => {
    let active = true;
    const sameProject = listed.current === name;
    listed.current = name;
    if (!sameProject) setList(null);
    setCursor(null);
    api<{ deployments: Deployment[]; nextCursor?: string | null }>('GET', `/projects/${enc}/deployments?limit=${FIRST_PAGE}${filters}`).then(
      (r) => {
        if (!active) return;
        setList((cur) => (sameProject ? r.deployments : merge(cur, r.deployments)));
        learnBranches(r.deployments);
        setCursor(r.nextCursor ?? null);
        setMore(r.nextCursor === undefined && r.deployments.length === FIRST_PAGE);
      },
      (e: unknown) => active && setError(e),
    );
    return () => {
      active = false;
    };
  }, [name, filters]);

  useEffect(() => {
    const close = stream(`/projects/${enc}/events`, {
      onOpen: () => setLive('live'),
      onError: (e, final) => {
        setLive('retrying');
        if (final) setError(e);
      },
      onEvent: (type, data) => {
        if (type === 'deployment') {
          const d = JSON.parse(data) as Deployment;
          setList((cur) => (cur === null ? cur : upsert(cur, d)));
        } else if (type === 'production') {
          const { deploymentId } = JSON.parse(data) as { deploymentId: string | null };
          setList((cur) => (cur === null ? cur : cur.map((x) => (x.isProduction !== (x.id === deploymentId) ? { ...x, isProduction: x.id === deploymentId } : x))));
        }
      },
    });
    return close;
  }, [name]);

  const loadMore = async () => {
    try {
      const page = cursor === null ? `limit=${MAX_PAGE}` : `limit=${MAX_PAGE}&cursor=${encodeURIComponent(cursor)}`;
      const r = await api<{ deployments: Deployment[]; nextCursor?: string | null }>('GET', `/projects/${enc}/deployments?${page}${filters}`);
      setList((cur) => merge(cur, r.deployments));
      learnBranches(r.deployments);
      setCursor(r.nextCursor ?? null);
      setMore(false);
    } catch (e) {
      setError(e);
    }
  };

  const branches = useMemo(
    () => [...new Set([...knownBranches, ...(list ?? []).map((d) => d.branch).filter((b): b is string => b !== null), ...(branch === '' ? [] : [branch])])].sort(),
    [knownBranches, list, branch],
  );
  // live events bring deployments of any branch and status: show only the ones the filters match
  const shown = useMemo(() => (list ?? []).filter((d) => (branch === '' || d.branch === branch) && (status === '' || d.status === status)), [list, branch, status]);
  const setFilter = (key: string, value: string) => {
    const q = new URLSearchParams(location.search);
    if (value === '') q.delete(key);
    else q.set(key, value);
    navigate(`/p/${name}${q.size > 0 ? `?${q}` : ''}`, true);
  };
  const deploy = async () => {
    setDeployError(null);
    try {
      const d = await api<Deployment>('POST', `/projects/${enc}/deployments`, {});
      navigate(`/p/${name}/d/${d.id}`);
    } catch (e) {
      setDeployError(e);
    }
  };
  const writable = canWrite(project?.team);

  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/">Projects</Link> / <span aria-current="page">{name}</span>
      </nav>
      <div class="row between wrap-row">
        <div class="min0">
          <h1>{name}</h1>
          <p class="muted small ellipsis head-line">
            {project === undefined ? '\u00a0' : project.productionDeploymentId === null ? 'Not live yet' : <ExternalLink href={project.productionUrl} />}
            {project !== undefined && <span> · {project.repoUrl}</span>}
          </p>
        </div>
        <div class="row">
          <Link href={`/p/${name}/logs`} class="button secondary">
            Logs
          </Link>
          <Link href={`/p/${name}/settings`} class="button secondary">
            Settings
          </Link>
          {writable && (
            <button type="button" onClick={deploy}>
              Deploy {project?.productionBranch ?? ''}
            </button>
          )}
        </div>
      </div>
      <ErrorBox error={projectError ?? deployError ?? error} />
      <div class="row wrap-row filters">
        <label class="field inline">
          <span>Branch</span>
          <select value={branch} onChange={(e) => setFilter('branch', (e.currentTarget as HTMLSelectElement).value)}>
            <option value="">All branches</option>
            {branches.map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </label>
        <label class="field inline">
          <span>Status</span>
          <select value={status} onChange={(e) => setFilter('status', (e.currentTarget as HTMLSelectElement).value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <span class="grow" />
        <span class={`live ${live}`} role="status">
          {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </span>
      </div>
      {list === null && error === null && <Skeleton rows={6} />}
      {list !== null && shown.length === 0 && (
        <p class="empty">{list.length === 0 && filters === '' ? 'No deployments yet: push to the repository or press Deploy.' : 'No deployment matches these filters.'}</p>
      )}
      {shown.length > 0 && (
        <ul class="list deployments" aria-label="Deployments">
          {shown.map((d) => (
            <DeploymentRow key={d.id} d={d} project={name} now={now} />
          ))}
        </ul>
      )}
      {(cursor !== null || more) && (
        <button type="button" class="secondary more" onClick={loadMore}>
          Load more
        </button>
      )}
    </section>
  );
}

function DeploymentRow({ d, project, now }: { d: Deployment; project: string; now: number }) {
  const framework = d.build?.framework?.name;
  const cache = cacheLabel(d);
  return (
    <li class="item dep-row" data-status={d.status} data-id={d.id}>
      <div class="dep-status">
        <StatusBadge status={d.status} />
        {d.isProduction && <span class="tag prod">Production</span>}
      </div>
      <div class="dep-main min0">
        <Link href={`/p/${project}/d/${d.id}`} class="title ellipsis">
          {firstLine(d.commit.message) || shortSha(d.commit.sha)}
        </Link>
        <div class="muted small ellipsis">
          <code>{shortSha(d.commit.sha)}</code>
          {d.branch !== null && <span> · {d.branch}</span>}
          {d.commit.author !== null && <span> · {d.commit.author}</span>}
          <span> · {d.target}</span>
        </div>
      </div>
      <div class="dep-meta muted small">
        <span>{duration(deploymentDuration(d, now))}</span>
        {framework !== undefined && <span>{framework}</span>}
        {cache !== '' && <span>{cache}</span>}
      </div>
      <div class="dep-links small">
        <span class="muted">{ago(d.createdAt, now)}</span>
        {d.status === 'ready' && <ExternalLink href={d.url}>Visit</ExternalLink>}
      </div>
    </li>
  );
}
