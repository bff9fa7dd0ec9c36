import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Skeleton } from '../components';
import { currentTeam, useSession } from '../session';
import type { AuditEvent } from '../types';
import { NoTeam } from './Members';

/** Who did what and when in the team, newest first, a page at a time. */
export function AuditPage() {
  const { team } = useSession();
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = async (from: string | null) => {
    try {
      const r = await api<{ events: AuditEvent[]; nextCursor: string | null }>('GET', `/teams/${encodeURIComponent(team ?? '')}/audit${from === null ? '' : `?cursor=${encodeURIComponent(from)}`}`);
      setEvents((cur) => [...(from === null ? [] : (cur ?? [])), ...r.events]);
      setCursor(r.nextCursor ?? null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    setEvents(null);
    setError(null);
    if (team !== null) void load(null);
  }, [team]);
  if (team === null) return <NoTeam what="audit trail" />;
  return (
    <section>
      <h1>Audit trail of {currentTeam()?.name || team}</h1>
      <ErrorBox error={error} title="Could not load the audit trail" />
      {events === null ? (
        error === null && <Skeleton rows={5} />
      ) : events.length === 0 ? (
        <p class="muted">Nothing recorded yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="audit">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">On</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td class="nowrap">{new Date(e.at).toLocaleString()}</td>
                  <td>{e.actor.email ?? (e.actor.type === 'admin' ? 'installation admin' : `${e.actor.type} ${e.actor.id}`)}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td class="mono small">{e.target ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor !== null && (
        <button type="button" class="secondary" onClick={() => load(cursor)}>
          Older events
        </button>
      )}
    </section>
  );
}
