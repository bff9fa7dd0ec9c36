import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { parseAnsi, type Run } from '../ansi';
import { api, stream } from '../api';
import { ConfirmButton, ErrorBox, ExternalLink, Skeleton, StatusBadge, useNow } from '../components';
import { ago, cacheLabel, deploymentDuration, duration, firstLine, shortSha } from '../format';
import { Link } from '../router';
import { canWrite } from '../session';
import type { Deployment, Project } from '../types';

const PHASES: [string, string][] = [
  ['fetchMs', 'Fetch'],
  ['installMs', 'Install'],
  ['buildMs', 'Build'],
  ['packageMs', 'Package'],
];
const ACTIVE = new Set(['queued', 'building', 'deploying']);

interface Line {
  n: number;
  runs: Run[];
}

/** One deployment: what it is, its build log streaming live, and what can be done with it. */
export function DeploymentPage({ project: name, id }: { project: string; id: string }) {
  const [d, setD] = useState<Deployment | undefined>(undefined);
  const [project, setProject] = useState<Project | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const now = useNow(ACTIVE.has(d?.status ?? '') ? 1000 : 30_000);
  const enc = encodeURIComponent(name);

  const refresh = async () => {
    try {
      setD(await api<Deployment>('GET', `/deployments/${encodeURIComponent(id)}`));
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    setD(undefined);
    setError(null);
    void refresh();
    api<Project>('GET', `/projects/${enc}`).then(setProject, setError);
    // status changes of this deployment (and production moves) arrive on the project's stream
    return stream(`/projects/${enc}/events`, {
      onEvent: (type, data) => {
        if (type === 'deployment') {
          const next = JSON.parse(data) as Deployment;
          if (next.id === id) setD(next);
        } else if (type === 'production') {
          const { deploymentId } = JSON.parse(data) as { deploymentId: string | null };
          setD((cur) => (cur === undefined ? cur : { ...cur, isProduction: cur.id === deploymentId }));
        }
      },
    });
  }, [name, id]);

  if (d === undefined) {
    return (
      <section>
        <Crumbs name={name} id={id} />
        <ErrorBox error={error} title="Could not load the deployment" />
        {error === null && <Skeleton rows={4} />}
      </section>
    );
  }
  const writable = canWrite(project?.team);
  const total = deploymentDuration(d, now);
  const cache = cacheLabel(d);
  return (
    <section>
      <Crumbs name={name} id={id} />
      <div class="row between wrap-row">
        <div class="min0">
          <h1 class="ellipsis">{firstLine(d.commit.message) || shortSha(d.commit.sha)}</h1>
          <div class="row wrap-row">
            <StatusBadge status={d.status} />
            {d.isProduction && <span class="tag prod">Production</span>}
            <span class="muted small">
              {d.environment ?? d.target} · {d.trigger} · {ago(d.createdAt, now)}
            </span>
          </div>
        </div>
        {writable && <Actions d={d} project={name} onChange={setD} />}
      </div>
      <ErrorBox error={error} />
      {d.error !== null && (
        <div class="error" role="alert">
          <strong>
            {d.status === 'canceled' ? 'Canceled' : 'Failed'}
            {d.error.phase !== null && ` during ${d.error.phase}`} ({d.error.code})
          </strong>
          <p>{d.error.message}</p>
          {d.error.hint !== undefined && <p class="hint">{d.error.hint}</p>}
        </div>
      )}
      <dl class="facts">
        <div>
          <dt>Commit</dt>
          <dd>
            {d.commit.sha === '' ? <span class="muted">uploaded</span> : <code>{shortSha(d.commit.sha)}</code>} {d.commit.author ?? ''}
          </dd>
        </div>
        <div>
          <dt>Branch</dt>
          <dd>{d.branch ?? '—'}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{duration(total)}</dd>
        </div>
        <div>
          <dt>Framework</dt>
          <dd>
            {d.build?.framework?.name ?? '—'}
            {cache !== '' && <span class="muted"> · {cache}</span>}
          </dd>
        </div>
        <div class="wide-fact">
          <dt>URLs</dt>
          <dd class="urls">
            {d.status === 'ready' || d.status === 'awaiting-approval' ? <ExternalLink href={d.url} /> : <span class="muted">{d.url.replace(/^https?:\/\//, '')}</span>}
            {d.branchUrl !== null && d.status === 'ready' && <ExternalLink href={d.branchUrl} />}
            {d.pullRequestUrl != null && d.status === 'ready' && <ExternalLink href={d.pullRequestUrl} />}
          </dd>
        </div>
        {d.gitHost != null && (
          <div class="wide-fact">
            <dt>{d.gitHost.provider === 'gitlab' ? 'GitLab' : 'GitHub'}</dt>
            <dd data-git-host={d.gitHost.state ?? ''}>
              {d.gitHost.repo}
              {d.pullRequest != null && ` #${d.pullRequest}`}
              {' · '}
              {d.gitHost.state === 'failed' ? (
                <span class="danger-text">not told: {d.gitHost.lastError}</span>
              ) : d.gitHost.state === 'retrying' ? (
                <span class="muted">
                  retrying ({d.gitHost.attempts} attempt{d.gitHost.attempts === 1 ? '' : 's'}): {d.gitHost.lastError}
                </span>
              ) : (
                <span class="muted">{d.gitHost.sent.length === 0 ? 'waiting to report' : `told: ${d.gitHost.sent.join(' → ')}`}</span>
              )}
            </dd>
          </div>
        )}
      </dl>
      {d.timings !== null && <Phases timings={d.timings} />}
      {d.status === 'ready' && (
        <p class="small">
          <Link href={`/p/${name}/logs?deployment=${encodeURIComponent(d.id)}`}>Requests and server output of this deployment</Link>
        </p>
      )}
      <h2>Build log</h2>
      <Log id={id} onEnd={refresh} />
    </section>
  );
}

function Crumbs({ name, id }: { name: string; id: string }) {
  return (
    <nav class="crumbs" aria-label="Breadcrumb">
      <Link href="/">Projects</Link> / <Link href={`/p/${name}`}>{name}</Link> / <span aria-current="page">{id}</span>
    </nav>
  );
}

function Actions({ d, project, onChange }: { d: Deployment; project: string; onChange: (d: Deployment) => void }) {
  const id = encodeURIComponent(d.id);
  return (
    <div class="row wrap-row">
      {ACTIVE.has(d.status) && (
        <ConfirmButton label="Cancel deployment" title="Cancel this deployment?" danger onConfirm={async () => onChange(await api<Deployment>('POST', `/deployments/${id}/cancel`))}>
          <p>The build stops and this deployment is marked canceled. Production does not change.</p>
        </ConfirmButton>
      )}
      {d.status === 'awaiting-approval' && (
        <>
          <ConfirmButton label="Approve" title={`Approve for ${d.environment}?`} class="" onConfirm={async () => onChange(await api<Deployment>('POST', `/deployments/${id}/approve`, {}))}>
            <p>
              {d.environment} will serve this deployment (<code>{shortSha(d.commit.sha) || d.id}</code>) at once. Review it first at its own URL.
            </p>
          </ConfirmButton>
          <ConfirmButton label="Reject" title="Reject this deployment?" danger onConfirm={async () => onChange(await api<Deployment>('POST', `/deployments/${id}/reject`, {}))}>
            <p>
              It will never serve at {d.environment}; what {d.environment} serves now stays.
            </p>
          </ConfirmButton>
        </>
      )}
      {d.status === 'ready' && !d.isProduction && d.target === 'preview' && (
        <ConfirmButton label="Promote to production" title="Promote to production?" class="" onConfirm={async () => onChange(await api<Deployment>('POST', `/deployments/${id}/promote`))}>
          <p>
            Production will serve this deployment (<code>{shortSha(d.commit.sha)}</code>) at once. Nothing is rebuilt.
          </p>
        </ConfirmButton>
      )}
      {d.status === 'ready' && !d.isProduction && d.target === 'production' && (
        <ConfirmButton
          label="Roll back to this"
          title="Roll production back to this deployment?"
          class=""
          onConfirm={async () => onChange(await api<Deployment>('POST', `/projects/${encodeURIComponent(project)}/rollback`, { deploymentId: d.id }))}
        >
          <p>
            Production will serve this deployment (<code>{shortSha(d.commit.sha)}</code>, {ago(d.createdAt)}) at once. Nothing is rebuilt.
          </p>
        </ConfirmButton>
      )}
    </div>
  );
}

function Phases({ timings }: { timings: Record<string, number> }) {
  const total = timings.totalMs ?? PHASES.reduce((s, [k]) => s + (timings[k] ?? 0), 0);
  return (
    <div class="phases">
      {PHASES.filter(([k]) => timings[k] !== undefined).map(([k, label]) => (
        <div key={k} class="phase">
          <span class="phase-name">{label}</span>
          <span class="bar" aria-hidden="true">
            <span style={{ width: `${Math.max(1, ((timings[k] ?? 0) / Math.max(1, total)) * 100)}%` }} />
          </span>
          <span class="phase-time">{duration(timings[k])}</span>
        </div>
      ))}
    </div>
  );
}

/** The build log over SSE, ANSI colours rendered, following the end unless the reader scrolled up. */
function Log({ id, onEnd }: { id: string; onEnd: () => void }) {
  const [lines, setLines] = useState<Line[]>([]);
  const [state, setState] = useState<'streaming' | 'ended' | 'retrying'>('streaming');
  const [error, setError] = useState<unknown>(null);
  const box = useRef<HTMLPreElement>(null);
  const follow = useRef(true);
  useEffect(() => {
    setLines([]);
    setState('streaming');
    let pending: Line[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setLines((cur) => [...cur, ...batch.filter((l) => l.n > (cur.at(-1)?.n ?? 0))]);
    };
    return stream(`/deployments/${encodeURIComponent(id)}/logs`, {
      onOpen: () => setState('streaming'),
      onError: (e, final) => {
        setState('retrying');
        if (final) setError(e);
      },
      onEvent: (type, data) => {
        if (type === 'line') {
          const l = JSON.parse(data) as { n: number; text: string };
          pending.push({ n: l.n, runs: parseAnsi(l.text).runs });
          // many lines arrive at once: render them in one go per frame
          if (frame === 0) frame = requestAnimationFrame(flush);
        } else if (type === 'end') {
          if (frame !== 0) cancelAnimationFrame(frame);
          flush();
          setState('ended');
          onEnd();
        }
      },
    });
  }, [id]);
  useLayoutEffect(() => {
    if (follow.current && box.current !== null) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);
  return (
    <>
      <ErrorBox error={error} title="Could not read the build log" />
      <pre
        role="log"
        class="log"
        ref={box}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling log must take focus so the keyboard can scroll it
        tabIndex={0}
        aria-label="Build log"
        aria-live="off"
        onScroll={(e) => {
          const el = e.currentTarget as HTMLPreElement;
          follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {lines.length === 0 && <span class="muted">{state === 'ended' ? 'No log lines.' : 'Waiting for the build to start…'}</span>}
        {lines.map((l) => (
          <div key={l.n} class="log-line">
            {l.runs.map((r, i) => (
              <span key={i} class={r.cls || undefined} style={r.style}>
                {r.text}
              </span>
            ))}
          </div>
        ))}
      </pre>
      <p class="muted small" role="status" data-log-state={state}>
        {state === 'ended' ? `Log complete · ${lines.length} lines` : state === 'retrying' ? 'Reconnecting to the log…' : 'Streaming…'}
      </p>
    </>
  );
}
