import { useState } from 'preact/hooks';
import { ErrorBox } from '../components';
import { navigate } from '../router';
import { loginWithPassword, loginWithToken } from '../session';

/** Email + password, or an API token (for the installation admin and automation accounts). */
export function LoginPage() {
  const [mode, setMode] = useState<'password' | 'token'>('password');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      if (mode === 'password') await loginWithPassword(String(form.get('email')), String(form.get('password')));
      else await loginWithToken(String(form.get('token')).trim());
      const next = new URLSearchParams(location.search).get('next');
      navigate(next?.startsWith('/') && !next.startsWith('//') && next !== '/login' ? next : '/', true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <form class="card" onSubmit={submit}>
        <h1>Sign in to Slipway</h1>
        {mode === 'password' ? (
          <>
            <div class="field">
              <label for="email">Email</label>
              <input id="email" name="email" type="email" autocomplete="username" required autoFocus />
            </div>
            <div class="field">
              <label for="password">Password</label>
              <input id="password" name="password" type="password" autocomplete="current-password" required />
            </div>
          </>
        ) : (
          <div class="field">
            <label for="token">API token</label>
            <input id="token" name="token" type="password" autocomplete="off" required autoFocus class="mono" />
            <p class="muted small">A personal token (slp_pat_…) or the installation's admin token.</p>
          </div>
        )}
        <ErrorBox error={error} title="Could not sign in" />
        <button type="submit" disabled={busy} class="wide">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <button
          type="button"
          class="link"
          onClick={() => {
            setError(null);
            setMode(mode === 'password' ? 'token' : 'password');
          }}
        >
          {mode === 'password' ? 'Sign in with a token instead' : 'Sign in with email and password'}
        </button>
      </form>
    </main>
  );
}
