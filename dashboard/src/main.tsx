import { Component, type ComponentChildren, render } from 'preact';
import { useEffect } from 'preact/hooks';
import { whenUnauthorized } from './api';
import { ErrorBox } from './components';
import { AuditPage } from './pages/Audit';
import { DeploymentPage } from './pages/Deployment';
import { InvitePage } from './pages/Invite';
import { LoginPage } from './pages/Login';
import { LogsPage } from './pages/Logs';
import { MembersPage } from './pages/Members';
import { NewProjectPage } from './pages/NewProject';
import { ProjectPage } from './pages/Project';
import { ProjectsPage } from './pages/Projects';
import { SettingsPage } from './pages/Settings';
import { TeamsPage } from './pages/Teams';
import { TokensPage } from './pages/Tokens';
import { Link, match, navigate, useLocation } from './router';
import { chooseTeam, forgetSession, loadMe, logout, session, useSession } from './session';
import './styles.css';

/** Catches a render error so the page shows what went wrong instead of going blank. */
class Boundary extends Component<{ children: ComponentChildren; path: string }, { error: unknown }> {
  override state = { error: null as unknown };
  override componentDidCatch(error: unknown) {
    this.setState({ error });
  }
  override componentDidUpdate(prev: { path: string }) {
    if (prev.path !== this.props.path && this.state.error !== null) this.setState({ error: null });
  }
  render() {
    if (this.state.error !== null) return <ErrorBox error={this.state.error} title="This page failed to show" />;
    return this.props.children;
  }
}

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === '/' || path === '/projects') return <ProjectsPage />;
  if (path === '/new') return <NewProjectPage />;
  if (path === '/teams') return <TeamsPage />;
  if (path === '/members') return <MembersPage />;
  if (path === '/tokens') return <TokensPage />;
  if (path === '/audit') return <AuditPage />;
  if ((m = match('/p/:project/d/:id', path))) return <DeploymentPage project={m.project!} id={m.id!} />;
  if ((m = match('/p/:project/settings', path))) return <SettingsPage project={m.project!} />;
  if ((m = match('/p/:project/logs', path))) return <LogsPage project={m.project!} />;
  if ((m = match('/p/:project', path))) return <ProjectPage project={m.project!} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code>. <Link href="/">Go to your projects</Link>.
      </p>
    </section>
  );
}

function Header() {
  const { me, team } = useSession();
  const { path } = useLocation();
  if (me === null) return null;
  const nav: [string, string][] = [
    ['/', 'Projects'],
    ['/members', 'Members'],
    ['/tokens', 'Tokens'],
    ['/audit', 'Audit'],
  ];
  const here = (href: string) => (href === '/' ? path === '/' || path === '/projects' || path.startsWith('/p/') || path === '/new' : path === href);
  return (
    <header class="top">
      <div class="wrap top-row">
        <Link href="/" class="brand">
          <svg viewBox="0 0 16 16" width="18" height="18" aria-hidden="true">
            <path d="M2 12h12L9 3z" fill="currentColor" />
          </svg>
          Slipway
        </Link>
        {me.teams.length > 0 && (
          <label class="team-pick">
            <span class="sr-only">Team</span>
            <select
              value={team ?? ''}
              onChange={(e) => {
                chooseTeam((e.currentTarget as HTMLSelectElement).value);
                navigate('/');
              }}
            >
              {me.teams.map((t) => (
                <option key={t.slug} value={t.slug}>
                  {t.name || t.slug}
                  {t.role === 'viewer' ? ' (viewer)' : ''}
                </option>
              ))}
            </select>
          </label>
        )}
        <span class="grow" />
        <span class="who muted small" title={me.user.email ?? ''}>
          {me.user.name ?? me.user.email}
        </span>
        <button
          type="button"
          class="secondary small-btn"
          onClick={async () => {
            // to /login first: signed out on this page, the app would offer to come back to it
            navigate('/login');
            await logout();
          }}
        >
          Log out
        </button>
      </div>
      <nav class="wrap tabs" aria-label="Main">
        {nav.map(([href, label]) => (
          <Link key={href} href={href} aria-current={here(href) ? 'page' : undefined}>
            {label}
          </Link>
        ))}
      </nav>
    </header>
  );
}

function App() {
  const { me, loading } = useSession();
  const { path } = useLocation();
  useEffect(() => {
    whenUnauthorized(() => {
      forgetSession();
      if (location.pathname !== '/login') navigate(`/login?next=${encodeURIComponent(location.pathname)}`, true);
    });
    loadMe().catch(() => {});
  }, []);
  useEffect(() => {
    if (!loading && me === null && path !== '/login' && !path.startsWith('/invite/')) navigate(`/login?next=${encodeURIComponent(path)}`, true);
    const s = session();
    // several teams and none chosen yet: ask which
    if (!loading && me !== null && !me.admin && me.teams.length > 1 && s.team === null && path !== '/teams') navigate('/teams', true);
  }, [loading, me, path]);

  if (loading) return <main class="wrap" id="main" aria-busy="true" />;
  const invite = match('/invite/:token', path);
  if (invite !== null) return <InvitePage token={invite.token!} />;
  if (path === '/login' || me === null) return <LoginPage />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header />
      <main class="wrap" id="main" tabIndex={-1}>
        <Boundary path={path}>
          <Page path={path} />
        </Boundary>
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
