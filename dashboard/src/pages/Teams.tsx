import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox } from '../components';
import { navigate } from '../router';
import { chooseTeam, loadMe, useSession } from '../session';

/** Pick the team to work in (a person can be in several), or start a new one. */
export function TeamsPage() {
  const { me, team } = useSession();
  const [error, setError] = useState<unknown>(null);
  if (me === null) return null;
  const create = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setError(null);
    try {
      const slug = String(form.get('slug'));
      await api('POST', '/teams', { slug, name: String(form.get('name')) || undefined });
      await loadMe();
      chooseTeam(slug);
      navigate('/');
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <h1>Teams</h1>
      {me.teams.length === 0 ? (
        <p class="muted">
          {me.admin ? 'As the installation admin you see every project; teams appear here once the server has them.' : 'You are not in a team yet. Ask an owner for an invitation, or start one.'}
        </p>
      ) : (
        <ul class="list">
          {me.teams.map((t) => (
            <li key={t.slug} class="item">
              <button
                type="button"
                class="item-button"
                aria-current={t.slug === team ? 'true' : undefined}
                onClick={() => {
                  chooseTeam(t.slug);
                  navigate('/');
                }}
              >
                <strong>{t.name || t.slug}</strong>
                <span class="muted small">
                  {t.slug} · {t.role}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <h2>New team</h2>
      <form class="row wrap-row" onSubmit={create}>
        <div class="field">
          <label for="team-slug">Slug</label>
          <input id="team-slug" name="slug" required pattern="[a-z0-9][a-z0-9-]*" placeholder="acme" />
        </div>
        <div class="field">
          <label for="team-name">Name</label>
          <input id="team-name" name="name" placeholder="Acme Agency" />
        </div>
        <button type="submit" class="align-end">
          Create team
        </button>
      </form>
      <ErrorBox error={error} />
    </section>
  );
}
