import { api, apiList } from '../api';
import { ErrorBox, ExternalLink, Skeleton, StatusBadge, useAsync, useNow } from '../components';
import { ago, firstLine, shortSha } from '../format';
import { Link } from '../router';
import { canWrite, useSession } from '../session';
import type { Deployment, Project } from '../types';

interface Row {
  project: Project;
  last: Deployment | null;
}

/** The team's projects: production URL, the last deployment and its status. */
export function ProjectsPage() {
  const { team } = useSession();
  const now = useNow();
  const [rows, error, reload] = useAsync(async (): Promise<Row[]> => {
    const projects = await apiList<Project>(`/projects${team === null ? '' : `?team=${encodeURIComponent(team)}`}`, 'projects');
    return Promise.all(
      projects.map(async (project) => {
        const { deployments } = await api<{ deployments: Deployment[] }>('GET', `/projects/${encodeURIComponent(project.name)}/deployments?limit=1`);
        return { project, last: deployments[0] ?? null };
      }),
    );
  }, [team]);
  return (
    <section>
      <div class="row between">
        <h1>Projects</h1>
        {canWrite() && (
          <Link href="/new" class="button">
            New project
          </Link>
        )}
      </div>
      <ErrorBox error={error} title="Could not load the projects" />
      {error !== null && (
        <button type="button" class="secondary" onClick={reload}>
          Try again
        </button>
      )}
      {rows === undefined && error === null && <Skeleton rows={3} />}
      {rows !== undefined && rows.length === 0 && (
        <div class="empty">
          <p>No projects yet.</p>
          {canWrite() && <Link href="/new">Create the first one from a git repository</Link>}
        </div>
      )}
      {rows !== undefined && rows.length > 0 && (
        <ul class="list">
          {rows.map(({ project, last }) => (
            <li key={project.id} class="item project-row">
              <div class="grow min0">
                <Link href={`/p/${project.name}`} class="title">
                  {project.name}
                </Link>
                <div class="muted small ellipsis">{project.productionDeploymentId === null ? 'Not live yet' : <ExternalLink href={project.productionUrl} />}</div>
              </div>
              <div class="last min0">
                {last === null ? (
                  <span class="muted small">No deployments</span>
                ) : (
                  <>
                    <StatusBadge status={last.status} />
                    <span class="small ellipsis">
                      <code>{shortSha(last.commit.sha)}</code> {firstLine(last.commit.message)}
                    </span>
                    <span class="muted small">{ago(last.createdAt, now)}</span>
                  </>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
