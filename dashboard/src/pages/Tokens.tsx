import { useState } from 'preact/hooks';
import { ConfirmButton, ErrorBox, Secret, Skeleton, useAsync } from '../components';
import { api, bearerToken, apiList } from '../api';
import { navigate } from '../router';
import { logout } from '../session';
import { ago } from '../format';
import { useSession } from '../session';
import type { ApiToken } from '../types';

/** Personal API tokens (and project deploy tokens): the secret is shown once, at creation. */
export function TokensPage() {
  const { me } = useSession();
  const [data, error, reload] = useAsync(() => apiList<ApiToken>('/tokens', 'tokens').then((tokens) => ({ tokens })), []);
  const [created, setCreated] = useState<string | null>(null);
  const [formError, setFormError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const opt = (k: string) => (String(f.get(k) ?? '').trim() === '' ? undefined : String(f.get(k)).trim());
    const expires = opt('expiresAt');
    setFormError(null);
    try {
      const answer = await api<{ token: string }>('POST', '/tokens', {
        name: String(f.get('name')).trim(),
        team: opt('team'),
        project: opt('project'),
        expiresAt: expires === undefined ? undefined : new Date(expires).toISOString(),
      });
      setCreated(answer.token);
      form.reset();
      reload();
    } catch (err) {
      setFormError(err);
    }
  };
  return (
    <section>
      <h1>API tokens</h1>
      <p class="muted">For the CLI and CI pipelines. A token acts as you (or, scoped to a project, may only deploy and read that project).</p>
      <ErrorBox error={error} title="Could not load the tokens" />
      {data === undefined ? (
        error === null && <Skeleton rows={2} />
      ) : data.tokens.length === 0 ? (
        <p class="muted">No tokens yet.</p>
      ) : (
        <ul class="list" aria-label="Tokens">
          {data.tokens.map((t) => (
            <li key={t.id} class="item token-row">
              <div class="grow min0">
                <strong class="ellipsis">{t.name}</strong>
                <div class="muted small">
                  {t.project ? `deploy token for ${t.project}` : t.team ? `team ${t.team}` : 'all your teams'} · created {ago(t.createdAt)} · last used{' '}
                  {t.lastUsedAt === null ? 'never' : ago(t.lastUsedAt)}
                  {t.expiresAt !== null && ` · expires ${new Date(t.expiresAt).toLocaleDateString()}`}
                </div>
              </div>
              <ConfirmButton label={`Revoke ${t.name}`} title={`Revoke ${t.name}?`} danger class="danger small-btn" onConfirm={() => api('DELETE', `/tokens/${encodeURIComponent(t.id)}`).then(reload)}>
                <p>Anything using it stops working at once.</p>
              </ConfirmButton>
            </li>
          ))}
        </ul>
      )}
      <form class="card" onSubmit={submit}>
        <h2>New token</h2>
        <div class="grid-fields">
          <div class="field">
            <label for="tk-name">Name</label>
            <input id="tk-name" name="name" required placeholder="laptop CLI" />
          </div>
          <div class="field">
            <label for="tk-team">Team (optional)</label>
            <select id="tk-team" name="team">
              <option value="">All my teams</option>
              {(me?.teams ?? []).map((t) => (
                <option key={t.slug} value={t.slug}>
                  {t.slug}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="tk-project">Project (deploy token, optional)</label>
            <input id="tk-project" name="project" placeholder="my-site" />
          </div>
          <div class="field">
            <label for="tk-exp">Expires (optional)</label>
            <input id="tk-exp" name="expiresAt" type="date" />
          </div>
        </div>
        <ErrorBox error={formError} title="Token not created" />
        <button type="submit">Create token</button>
        {created !== null && (
          <>
            <Secret label="Your new token" value={created} />
            <p class="muted small">Copy it now: it is not shown again.</p>
          </>
        )}
      </form>
      {bearerToken() === null && (
        <div class="card">
          <h2>Browser sessions</h2>
          <p class="muted small">Signed in on another computer, or lost a device? End every session of yours at once; your API tokens keep working (revoke them above).</p>
          <ConfirmButton
            label="Log out everywhere"
            title="Log out everywhere?"
            danger
            onConfirm={async () => {
              await logout(true);
              navigate('/login');
            }}
          >
            <p>Every browser signed in as you, this one included, is signed out.</p>
          </ConfirmButton>
        </div>
      )}
    </section>
  );
}
