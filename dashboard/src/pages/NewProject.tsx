import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Secret } from '../components';
import { Link } from '../router';
import { useSession } from '../session';
import type { Project } from '../types';

/** Create a project from a repository URL; its webhook URL and secret are shown this once. */
export function NewProjectPage() {
  const { team } = useSession();
  const [created, setCreated] = useState<Project | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const opt = (k: string) => (String(f.get(k) ?? '').trim() === '' ? undefined : String(f.get(k)).trim());
    setBusy(true);
    setError(null);
    try {
      const body = {
        name: String(f.get('name')).trim(),
        repoUrl: String(f.get('repoUrl')).trim(),
        productionBranch: opt('productionBranch'),
        rootDirectory: opt('rootDirectory'),
        buildCommand: opt('buildCommand'),
        outputDirectory: opt('outputDirectory'),
        ...(team === null ? {} : { team }),
      };
      setCreated(await api<Project>('POST', '/projects', body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (created !== null) {
    return (
      <section class="narrow">
        <h1>{created.name} is ready for its first push</h1>
        <p>
          Add a webhook at your git host (content type <code>application/json</code>, event: push and pull request) with this URL and secret. <strong>The secret is shown only now</strong>: copy it
          before you leave this page.
        </p>
        <Secret label="Webhook URL" value={created.webhookUrl} />
        {created.webhookSecret !== undefined && <Secret label="Webhook secret" value={created.webhookSecret} />}
        <p>
          <Link href={`/p/${created.name}`} class="button">
            Go to {created.name}
          </Link>
        </p>
      </section>
    );
  }
  return (
    <section class="narrow">
      <h1>New project</h1>
      <form onSubmit={submit}>
        <div class="field">
          <label for="np-name">Name</label>
          <input id="np-name" name="name" required pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?" maxLength={40} placeholder="my-site" autoFocus />
          <p class="muted small">Lower-case letters, digits and hyphens. The site will be at &lt;name&gt;.&lt;base domain&gt;.</p>
        </div>
        <div class="field">
          <label for="np-repo">Repository URL</label>
          <input id="np-repo" name="repoUrl" required placeholder="https://github.com/acme/site.git" class="mono" />
        </div>
        <div class="field">
          <label for="np-branch">Production branch</label>
          <input id="np-branch" name="productionBranch" placeholder="main" />
        </div>
        <details>
          <summary>Build settings (optional: detected from the repository)</summary>
          <div class="field">
            <label for="np-root">Root directory</label>
            <input id="np-root" name="rootDirectory" placeholder="apps/web" />
          </div>
          <div class="field">
            <label for="np-build">Build command</label>
            <input id="np-build" name="buildCommand" placeholder="npm run build" class="mono" />
          </div>
          <div class="field">
            <label for="np-out">Output directory</label>
            <input id="np-out" name="outputDirectory" placeholder="dist" />
          </div>
        </details>
        <ErrorBox error={error} title="Could not create the project" />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create project'}
        </button>
      </form>
    </section>
  );
}
