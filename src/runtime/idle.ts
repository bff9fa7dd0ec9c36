export interface IdleCandidate {
  inFlight: number;
  lastRequestAt: number;
}

/**
 * Scale to zero: every so often, call `stop` for each candidate that has had no request in
 * flight for `idleMs`. One timer for all deployments, so a request costs no timer work.
 * Returns a function that stops the sweeping.
 */
export function sweepIdle<T extends IdleCandidate>(idleMs: number, candidates: () => Iterable<T>, stop: (candidate: T) => void): () => void {
  const every = Math.min(Math.max(Math.floor(idleMs / 4), 10), 10_000);
  const timer = setInterval(() => {
    const now = Date.now();
    for (const candidate of candidates()) {
      if (candidate.inFlight === 0 && now - candidate.lastRequestAt >= idleMs) stop(candidate);
    }
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
