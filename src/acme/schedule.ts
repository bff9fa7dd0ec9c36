const DAY = 86_400_000;

/**
 * When to start renewing a certificate valid from notBefore to notAfter: 30 days before it
 * expires, or a third of its lifetime before for short-lived ones, whichever is later, minus
 * a jitter (up to a day, or a twentieth of the lifetime) so that certificates issued together
 * do not all renew at the same moment. `random` is for tests.
 */
export function renewAt(notBefore: number, notAfter: number, random: number = Math.random()): number {
  const lifetime = Math.max(0, notAfter - notBefore);
  const jitter = random * Math.min(DAY, lifetime / 20);
  return Math.round(notAfter - Math.min(30 * DAY, lifetime / 3) - jitter);
}

/** The wait before attempt number `failures + 1`: base, doubling, at most `maxMs`, with ±10% jitter. */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: number = Math.random()): number {
  const plain = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(plain * (0.9 + 0.2 * random));
}
