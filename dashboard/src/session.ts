import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, bearerToken, setBearerToken, setCsrfToken } from './api';
import type { Me, Role, Team } from './types';

// Who is signed in, and which team they are looking at. Kept in one small observable object so any
// page can read it; /me is asked once at start and after a login.

interface SessionState {
  me: Me | null;
  /** true until the first /me answer (so the app shows a calm placeholder, not the login page) */
  loading: boolean;
  team: string | null;
}

const TEAM_KEY = 'slipway.team';
let state: SessionState = { me: null, loading: true, team: localStorage.getItem(TEAM_KEY) };
const subs = new Set<() => void>();

function set(next: Partial<SessionState>): void {
  state = { ...state, ...next };
  for (const s of subs) s();
}

export function useSession(): SessionState {
  const [, tick] = useState(0);
  useEffect(() => {
    const s = () => tick((n) => n + 1);
    subs.add(s);
    return () => void subs.delete(s);
  }, []);
  return state;
}

export const session = () => state;

/** The installation admin with a token, on a server that has no /me yet: sees everything. */
const TOKEN_ADMIN: Me = { user: { id: 'admin', email: null, name: 'Installation admin' }, admin: true, teams: [] };

/** Ask the server who we are; null when nobody is signed in. */
export async function loadMe(): Promise<Me | null> {
  try {
    const me = await api<Me>('GET', '/me', undefined, { quiet401: true });
    setCsrfToken(me.csrfToken);
    // the installation admin is in no team but acts on all of them: offer them in the picker
    if (me.admin && me.teams.length === 0) {
      try {
        const { teams } = await api<{ teams: { slug: string; name?: string }[] }>('GET', '/teams?limit=200', undefined, { quiet401: true });
        me.teams = teams.map((t) => ({ slug: t.slug, name: t.name ?? t.slug, role: 'owner' }));
      } catch {
        // no team list for this caller: the admin still sees every project
      }
    }
    const team = state.team !== null && me.teams.some((t) => t.slug === state.team) ? state.team : (me.teams[0]?.slug ?? null);
    set({ me, loading: false, team });
    return me;
  } catch (err) {
    // a server without accounts has no /me: a valid bearer token is then the installation admin
    if (err instanceof ApiError && err.status === 404 && bearerToken() !== null) {
      await api('GET', '/projects', undefined, { quiet401: true });
      set({ me: TOKEN_ADMIN, loading: false, team: null });
      return TOKEN_ADMIN;
    }
    if (err instanceof ApiError && err.status === 401) {
      setBearerToken(null);
      set({ me: null, loading: false });
      return null;
    }
    set({ loading: false });
    throw err;
  }
}

export async function loginWithPassword(email: string, password: string): Promise<void> {
  setBearerToken(null);
  const answer = await api<{ csrfToken?: string }>('POST', '/auth/login', { email, password }, { quiet401: true });
  setCsrfToken(answer.csrfToken);
  await loadMe();
}

/** A token becomes a browser session where the server offers that; else it is kept for this tab. */
export async function loginWithToken(token: string): Promise<void> {
  setBearerToken(null);
  try {
    const answer = await api<{ csrfToken?: string }>('POST', '/auth/login', { token }, { quiet401: true });
    setCsrfToken(answer.csrfToken);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    setBearerToken(token);
  }
  try {
    await loadMe();
  } catch (err) {
    setBearerToken(null);
    throw err;
  }
}

export async function logout(everywhere = false): Promise<void> {
  if (bearerToken() === null) {
    try {
      await api('POST', everywhere ? '/auth/logout-everywhere' : '/auth/logout', undefined, { quiet401: true });
    } catch (err) {
      // the session may already be gone: signing out here is what matters, except when the
      // point was to end the other sessions too
      if (everywhere && !(err instanceof ApiError && err.status === 401)) throw err;
    }
  }
  setBearerToken(null);
  setCsrfToken(undefined);
  set({ me: null, loading: false });
}

export function forgetSession(): void {
  setBearerToken(null);
  setCsrfToken(undefined);
  set({ me: null, loading: false });
}

export function chooseTeam(slug: string): void {
  localStorage.setItem(TEAM_KEY, slug);
  set({ team: slug });
}

export function currentTeam(): Team | undefined {
  return state.me?.teams.find((t) => t.slug === state.team);
}

/** The caller's role in a team (the installation admin counts as owner everywhere). */
export function roleIn(team: string | null | undefined): Role | null {
  const me = state.me;
  if (me === null) return null;
  if (me.admin) return 'owner';
  const slug = team ?? state.team;
  return me.teams.find((t) => t.slug === slug)?.role ?? null;
}

export const canWrite = (team?: string | null) => {
  const r = roleIn(team);
  return r === 'owner' || r === 'member';
};
export const canOwn = (team?: string | null) => roleIn(team) === 'owner';
