import { useState } from 'preact/hooks';
import { api, apiList } from '../api';
import { ConfirmButton, ErrorBox, Secret, Skeleton, useAsync } from '../components';
import { canOwn, currentTeam, useSession } from '../session';
import type { Member, Role } from '../types';

const ROLES: Role[] = ['owner', 'member', 'viewer'];

/** The team's people and their roles; owners add, change, remove and invite. */
export function MembersPage() {
  const { team } = useSession();
  const t = encodeURIComponent(team ?? '');
  const [data, error, reload] = useAsync(async () => (team === null ? null : apiList<Member>(`/teams/${t}/members`, 'members').then((members) => ({ members }))), [team]);
  const [actionError, setActionError] = useState<unknown>(null);
  const [invite, setInvite] = useState<{ url: string; expiresAt: string } | null>(null);
  const owner = canOwn();
  if (team === null) return <NoTeam what="members" />;
  const act = async (fn: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await fn();
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const memberId = (m: Member) => encodeURIComponent(m.userId ?? m.id ?? '');
  return (
    <section>
      <h1>Members of {currentTeam()?.name || team}</h1>
      <ErrorBox error={error} title="Could not load the members" />
      <ErrorBox error={actionError} />
      {data === undefined ? (
        error === null && <Skeleton rows={3} />
      ) : (
        <ul class="list" aria-label="Members">
          {(data?.members ?? []).map((m) => (
            <li key={m.email} class="item member-row">
              <div class="grow min0">
                <strong class="ellipsis">{m.name ?? m.email}</strong>
                <div class="muted small ellipsis">{m.email}</div>
              </div>
              {owner ? (
                <label>
                  <span class="sr-only">Role of {m.email}</span>
                  <select value={m.role} onChange={(e) => act(() => api('PATCH', `/teams/${t}/members/${memberId(m)}`, { role: (e.currentTarget as HTMLSelectElement).value }))}>
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </label>
              ) : (
                <span class="tag">{m.role}</span>
              )}
              {owner && (
                <ConfirmButton
                  label={`Remove ${m.email}`}
                  title={`Remove ${m.email} from the team?`}
                  danger
                  class="danger small-btn"
                  onConfirm={() => api('DELETE', `/teams/${t}/members/${memberId(m)}`).then(reload)}
                >
                  <p>They lose access to every project of this team at once.</p>
                </ConfirmButton>
              )}
            </li>
          ))}
        </ul>
      )}
      {owner && (
        <div class="two-col">
          <form
            class="card"
            onSubmit={(e) => {
              e.preventDefault();
              const f = new FormData(e.currentTarget as HTMLFormElement);
              void act(() => api('POST', `/teams/${t}/members`, { email: String(f.get('email')).trim(), role: String(f.get('role')) }));
            }}
          >
            <h2>Add someone with an account</h2>
            <div class="field">
              <label for="m-email">Email</label>
              <input id="m-email" name="email" type="email" required />
            </div>
            <RoleSelect id="m-role" />
            <button type="submit">Add member</button>
          </form>
          <form
            class="card"
            onSubmit={(e) => {
              e.preventDefault();
              const f = new FormData(e.currentTarget as HTMLFormElement);
              void act(async () =>
                setInvite(await api<{ url: string; expiresAt: string }>('POST', `/teams/${t}/invitations`, { role: String(f.get('role')), email: String(f.get('email')).trim() || undefined })),
              );
            }}
          >
            <h2>Invite by link</h2>
            <div class="field">
              <label for="i-email">Email (optional)</label>
              <input id="i-email" name="email" type="email" />
            </div>
            <RoleSelect id="i-role" />
            <button type="submit">Create invitation</button>
            {invite !== null && (
              <>
                <Secret label="Invitation link" value={invite.url} />
                <p class="muted small">Send it yourself: it works once, until {new Date(invite.expiresAt).toLocaleString()}.</p>
              </>
            )}
          </form>
        </div>
      )}
    </section>
  );
}

function RoleSelect({ id }: { id: string }) {
  return (
    <div class="field">
      <label for={id}>Role</label>
      {/* `selected` on the option: a select's defaultValue does not reach the DOM in Preact */}
      <select id={id} name="role">
        <option value="owner">owner: everything, members, deletion</option>
        <option value="member" selected>
          member: deploy, promote, variables, domains
        </option>
        <option value="viewer">viewer: read only</option>
      </select>
    </div>
  );
}

export function NoTeam({ what }: { what: string }) {
  return (
    <section>
      <h1>No team</h1>
      <p class="muted">Choose a team to see its {what}. The installation admin token sees every project but belongs to no team.</p>
    </section>
  );
}
