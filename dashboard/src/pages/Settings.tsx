import { useState } from 'preact/hooks';
import { api, apiList } from '../api';
import { ConfirmButton, ErrorBox, Skeleton, StatusBadge, useAsync } from '../components';
import { ago } from '../format';
import { Link } from '../router';
import { canWrite } from '../session';
import type { Domain, EnvVar, Project } from '../types';

type FieldDef = [key: keyof Project, label: string, kind: 'text' | 'number', help?: string];

const BUILD: FieldDef[] = [
  ['productionBranch', 'Production branch', 'text'],
  ['rootDirectory', 'Root directory', 'text', 'The folder of the app inside the repository; empty: the top.'],
  ['installCommand', 'Install command', 'text', 'Empty: detected from the lockfile.'],
  ['buildCommand', 'Build command', 'text', 'Empty: detected from the framework.'],
  ['outputDirectory', 'Output directory', 'text'],
  ['nodeVersion', 'Node.js version', 'text', 'Empty: what the repository declares, else the current LTS.'],
  ['buildTimeoutSeconds', 'Build timeout (seconds)', 'number'],
];
const LIMITS: FieldDef[] = [
  ['serverMemoryMb', 'Server memory (MiB)', 'number'],
  ['serverRequestTimeoutSeconds', 'Request timeout (seconds)', 'number'],
  ['serverPids', 'Server processes', 'number'],
  ['serverCpuShares', 'Server CPU shares', 'number'],
  ['buildMemoryMb', 'Build memory (MiB)', 'number'],
  ['buildDiskMb', 'Build disk (MiB)', 'number'],
  ['buildPids', 'Build processes', 'number'],
  ['buildCpuShares', 'Build CPU shares', 'number'],
];

/** A project's settings: build, limits, environment variables (write-only) and domains. */
export function SettingsPage({ project: name }: { project: string }) {
  const enc = encodeURIComponent(name);
  const [project, error, , setProject] = useAsync(() => api<Project>('GET', `/projects/${enc}`), [name]);
  const writable = canWrite(project?.team);
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/">Projects</Link> / <Link href={`/p/${name}`}>{name}</Link> / <span aria-current="page">Settings</span>
      </nav>
      <h1>Settings</h1>
      <ErrorBox error={error} title="Could not load the project" />
      {project === undefined ? (
        error === null && <Skeleton rows={5} />
      ) : (
        <>
          <SettingsForm title="Build" fields={BUILD} project={project} writable={writable} onSaved={setProject} />
          <SettingsForm title="Limits" fields={LIMITS} project={project} writable={writable} onSaved={setProject} />
          <EnvSection project={name} writable={writable} />
          <DomainsSection project={name} writable={writable} />
        </>
      )}
    </section>
  );
}

function SettingsForm({ title, fields, project, writable, onSaved }: { title: string; fields: FieldDef[]; project: Project; writable: boolean; onSaved: (p: Project) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const patch: Record<string, unknown> = {};
    for (const [key, , kind] of fields) {
      const raw = String(f.get(key) ?? '').trim();
      const value = raw === '' ? null : kind === 'number' ? Number(raw) : raw;
      // send only what changed: an untouched limit keeps following the platform's default
      if (value !== (project[key] ?? null)) patch[key] = value;
    }
    setError(null);
    setSaved(false);
    if (Object.keys(patch).length === 0) return setSaved(true);
    try {
      onSaved(await api<Project>('PATCH', `/projects/${encodeURIComponent(project.name)}`, patch));
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  const id = title.toLowerCase();
  return (
    <form class="card" onSubmit={submit} aria-labelledby={`h-${id}`}>
      <h2 id={`h-${id}`}>{title}</h2>
      <fieldset disabled={!writable} class="grid-fields">
        {fields.map(([key, label, kind, help]) => (
          <div class="field" key={key}>
            <label for={`f-${key}`}>{label}</label>
            {kind === 'number' ? (
              <input id={`f-${key}`} name={key} type="number" defaultValue={String(project[key] ?? '')} />
            ) : (
              <input id={`f-${key}`} name={key} type="text" defaultValue={String(project[key] ?? '')} class="mono" />
            )}
            {help !== undefined && <p class="muted small">{help}</p>}
          </div>
        ))}
      </fieldset>
      <ErrorBox error={error} title="Not saved" />
      {writable && (
        <div class="row">
          <button type="submit">Save {id}</button>
          {saved && (
            <span class="muted small" role="status">
              Saved. New deployments use it.
            </span>
          )}
        </div>
      )}
    </form>
  );
}

function EnvSection({ project, writable }: { project: string; writable: boolean }) {
  const enc = encodeURIComponent(project);
  const [data, error, reload] = useAsync(() => apiList<EnvVar>(`/projects/${enc}/env`, 'env').then((env) => ({ env })), [project]);
  const [formError, setFormError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const targets = ['production', 'preview'].filter((t) => f.get(`t-${t}`) !== null);
    setFormError(null);
    try {
      await api('PUT', `/projects/${enc}/env/${encodeURIComponent(String(f.get('key')).trim())}`, { value: String(f.get('value')), targets });
      form.reset();
      reload();
    } catch (err) {
      setFormError(err);
    }
  };
  return (
    <section class="card" aria-labelledby="h-env">
      <h2 id="h-env">Environment variables</h2>
      <p class="muted small">Values are write-only: once saved they are never shown again, here or in the API. New deployments get them; existing ones keep theirs.</p>
      <ErrorBox error={error} />
      {data === undefined ? (
        error === null && <Skeleton rows={2} />
      ) : data.env.length === 0 ? (
        <p class="muted">No variables.</p>
      ) : (
        <ul class="list" aria-label="Variables">
          {data.env.map((v) => (
            <li key={v.key} class="item env-row">
              <code class="grow ellipsis">{v.key}</code>
              <span class="mono muted">{v.value}</span>
              <span class="muted small">{v.targets.join(', ')}</span>
              <span class="muted small">{ago(v.updatedAt)}</span>
              {writable && (
                <ConfirmButton
                  label={`Remove ${v.key}`}
                  title={`Remove ${v.key}?`}
                  danger
                  class="danger small-btn"
                  onConfirm={async () => {
                    await api('DELETE', `/projects/${enc}/env/${encodeURIComponent(v.key)}`);
                    reload();
                  }}
                >
                  <p>New deployments will not have it. Existing deployments keep the value they were made with.</p>
                </ConfirmButton>
              )}
            </li>
          ))}
        </ul>
      )}
      {writable && (
        <form onSubmit={submit} class="env-form">
          <div class="field">
            <label for="env-key">Name</label>
            <input id="env-key" name="key" required pattern="[A-Za-z_][A-Za-z0-9_]*" class="mono" placeholder="API_URL" autocomplete="off" />
          </div>
          <div class="field grow">
            <label for="env-value">Value</label>
            <input id="env-value" name="value" type="password" required autocomplete="new-password" class="mono" />
          </div>
          <fieldset class="targets">
            <legend>Targets</legend>
            <label>
              <input type="checkbox" name="t-production" defaultChecked /> Production
            </label>
            <label>
              <input type="checkbox" name="t-preview" defaultChecked /> Preview
            </label>
          </fieldset>
          <button type="submit" class="align-end">
            Save variable
          </button>
          <ErrorBox error={formError} title="Variable not saved" />
        </form>
      )}
    </section>
  );
}

function DomainsSection({ project, writable }: { project: string; writable: boolean }) {
  const enc = encodeURIComponent(project);
  const [data, error, reload] = useAsync(() => apiList<Domain>(`/projects/${enc}/domains`, 'domains').then((domains) => ({ domains })), [project]);
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    setFormError(null);
    setBusy(true);
    try {
      await api('POST', `/projects/${enc}/domains`, { name: String(new FormData(form).get('name')).trim() });
      form.reset();
      reload();
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  };
  const verify = async (name: string) => {
    setFormError(null);
    try {
      await api('POST', `/projects/${enc}/domains/${encodeURIComponent(name)}/verify`);
      reload();
    } catch (err) {
      setFormError(err);
    }
  };
  return (
    <section class="card" aria-labelledby="h-domains">
      <h2 id="h-domains">Domains</h2>
      <ErrorBox error={error} />
      {data === undefined ? (
        error === null && <Skeleton rows={1} />
      ) : data.domains.length === 0 ? (
        <p class="muted">No custom domains.</p>
      ) : (
        <ul class="list" aria-label="Domains">
          {data.domains.map((d) => (
            <li key={d.name} class="item domain">
              <div class="row between wrap-row">
                <strong class="ellipsis">{d.name}</strong>
                <StatusBadge status={d.status} />
              </div>
              <p class="small">{d.todo}</p>
              {d.status !== 'active' && (
                <div class="records">
                  <p class="muted small">{d.dns.anyOne ? 'Create one of these records:' : 'Create these records:'}</p>
                  <table class="small">
                    <thead>
                      <tr>
                        <th scope="col">Type</th>
                        <th scope="col">Name</th>
                        <th scope="col">Value</th>
                      </tr>
                    </thead>
                    <tbody>
                      {[...d.dns.addresses, ...(d.dns.cname === null ? [] : [d.dns.cname])].map((r) => (
                        <tr key={r.type + r.value}>
                          <td>{r.type}</td>
                          <td class="mono">{r.name}</td>
                          <td class="mono">{r.value}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
              {writable && (
                <div class="row">
                  <button type="button" class="secondary small-btn" onClick={() => verify(d.name)}>
                    Check DNS now
                  </button>
                  <ConfirmButton
                    label={`Remove ${d.name}`}
                    title={`Remove ${d.name}?`}
                    danger
                    class="danger small-btn"
                    onConfirm={async () => {
                      await api('DELETE', `/projects/${enc}/domains/${encodeURIComponent(d.name)}`);
                      reload();
                    }}
                  >
                    <p>The site stops answering at this name.</p>
                  </ConfirmButton>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {writable && (
        <form onSubmit={submit} class="row wrap-row">
          <div class="field grow">
            <label for="domain-name">Add a domain</label>
            <input id="domain-name" name="name" required placeholder="www.example.com" />
          </div>
          <button type="submit" class="align-end" disabled={busy}>
            {busy ? 'Checking DNS…' : 'Add domain'}
          </button>
        </form>
      )}
      <ErrorBox error={formError} />
    </section>
  );
}
