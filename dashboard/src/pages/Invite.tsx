import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, useAsync } from '../components';
import { navigate } from '../router';
import { loadMe, loginWithPassword, useSession } from '../session';

/** `/invite/<token>`: the one-time link an owner sends; a new person makes an account, a signed-in one just joins. */
export function InvitePage({ token }: { token: string }) {
  const { me } = useSession();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const path = `/invitations/${encodeURIComponent(token)}/accept`;
  // what the link is for, before anyone types a password (a used or expired link says so here)
  const [info, infoError] = useAsync(
    () => api<{ team: { slug: string; name: string }; role: string; email: string | null }>('GET', `/invitations/${encodeURIComponent(token)}`, undefined, { quiet401: true }),
    [token],
  );
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      navigate('/', true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const email = String(f.get('email')).trim();
    const password = String(f.get('password'));
    void run(async () => {
      await api('POST', path, { email, password, name: String(f.get('name')).trim() || undefined }, { quiet401: true });
      await loginWithPassword(email, password);
    });
  };
  return (
    <main class="login" id="main">
      <div class="card">
        <h1>{info === undefined ? 'Join a team on Slipway' : `Join ${info.team.name || info.team.slug} on Slipway`}</h1>
        <p class="muted small head-line">{info === undefined ? '\u00a0' : `As a ${info.role}${info.email === null ? '' : `, for ${info.email}`}.`}</p>
        <ErrorBox error={infoError} title="This invitation cannot be used" />
        {me !== null && !me.admin ? (
          <>
            <p>You are signed in as {me.user.email}.</p>
            <button
              type="button"
              class="wide"
              disabled={busy}
              onClick={() =>
                run(async () => {
                  await api('POST', path);
                  await loadMe();
                })
              }
            >
              Accept the invitation
            </button>
          </>
        ) : (
          <form onSubmit={submit}>
            <div class="field">
              <label for="inv-name">Your name</label>
              <input id="inv-name" name="name" autocomplete="name" />
            </div>
            <div class="field">
              <label for="inv-email">Email</label>
              <input id="inv-email" name="email" type="email" autocomplete="username" required value={info?.email ?? undefined} />
            </div>
            <div class="field">
              <label for="inv-password">Password</label>
              <input id="inv-password" name="password" type="password" autocomplete="new-password" required minLength={8} />
            </div>
            <button type="submit" class="wide" disabled={busy}>
              {busy ? 'Joining…' : 'Create account and join'}
            </button>
          </form>
        )}
        <ErrorBox error={error} title="Could not accept the invitation" />
      </div>
    </main>
  );
}
