import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { loadSecretKey, SecretBox } from '../../src/secrets.js';
import { Store, type Domain } from '../../src/store/index.js';
import { startBind, type BindZone, type RunningBind } from '../helpers/bind.js';
import { tempDir } from '../helpers/paths.js';
import { freePort, pebbleMissing, startPebble, type RunningPebble } from '../helpers/pebble.js';
import { startSlipwayProcess, waitFor, type RunningSlipway } from '../helpers/slipway.js';

/** Why these end-to-end tests cannot run here, or false. */
export function acmeTestSkip(): string | false {
  const pebble = pebbleMissing();
  if (pebble !== false) return pebble;
  const missing = ['named', 'nsupdate', 'dig'].filter((bin) => spawnSync('which', [bin]).status !== 0);
  return missing.length > 0 ? `needs ${missing.join(', ')} (bind9, bind9-dnsutils)` : false;
}

/**
 * The names the tests use: every name under acme.test and sites.test resolves to 127.0.0.1
 * (the edge), except broken.acme.test (127.0.0.2: nothing listens there, so validation fails).
 */
export const ZONES: BindZone[] = [
  {
    name: 'acme.test',
    records: [
      { name: '@', type: 'A', value: '127.0.0.1' },
      { name: '*', type: 'A', value: '127.0.0.1' },
      { name: 'broken', type: 'A', value: '127.0.0.2' },
    ],
  },
  {
    name: 'sites.test',
    records: [
      { name: '@', type: 'A', value: '127.0.0.1' },
      { name: '*', type: 'A', value: '127.0.0.1' },
    ],
  },
];

export interface AcmeWorld {
  dns: RunningBind;
  pebble: RunningPebble;
  slipway: RunningSlipway;
  store: Store;
  box: SecretBox;
  dataDir: string;
  httpsPort: number;
  /** the edge has an HTTPS listener (TLS-ALPN-01 can be answered) */
  hasHttps: boolean;
  close(): Promise<void>;
}

/**
 * BIND (names -> 127.0.0.1), a `slipway up` with two edge processes, HTTPS on and ACME pointed
 * at pebble, and pebble validating against that edge (started first: Slipway may order as soon
 * as it starts, as it does for the base domain over DNS-01).
 */
export async function startAcmeWorld(opts: { flags?: (dns: RunningBind) => string[]; env?: (dns: RunningBind) => Record<string, string>; validitySeconds?: number }): Promise<AcmeWorld> {
  const dns = await startBind(ZONES);
  const dir = await tempDir('slipway-acme-');
  const cleanups: Array<() => Promise<unknown>> = [() => dir.cleanup(), () => dns.close()];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const [edgePort, httpsPort, pebblePort] = [await freePort(), await freePort(), await freePort()];
    const pebble = await startPebble({
      httpPort: edgePort,
      tlsPort: httpsPort,
      listenPort: pebblePort,
      dnsServer: dns.address,
      ...(opts.validitySeconds === undefined ? {} : { validitySeconds: opts.validitySeconds }),
    });
    cleanups.push(() => pebble.close());
    const slipway = await startSlipwayProcess(
      join(dir.path, 'data'),
      [
        '--edge-port',
        String(edgePort),
        '--edge-workers',
        '2',
        '--build-concurrency',
        '0',
        '--acme-directory',
        `https://127.0.0.1:${pebblePort}/dir`,
        '--acme-email',
        'ops@acme.test',
        '--acme-ca-file',
        pebble.caFile,
        ...(opts.flags?.(dns) ?? []),
      ],
      { SLIPWAY_HTTPS_PORT: String(httpsPort), SLIPWAY_DNS_SERVERS: dns.address, ...(opts.env?.(dns) ?? {}) },
    );
    cleanups.push(() => slipway.stop());
    const dataDir = join(dir.path, 'data');
    const store = await Store.openSqlite(join(dataDir, 'slipway.db'), { migrate: false });
    cleanups.push(() => store.close());
    const box = new SecretBox(await loadSecretKey(join(dataDir, 'secret.key')));
    const health = await fetch(`${slipway.apiUrl}/healthz`).then((r) => r.text());
    return {
      dns,
      pebble,
      slipway,
      store,
      box,
      dataDir,
      httpsPort,
      // the HTTPS listener is another part of issue 9: until it is there, TLS-ALPN-01 cannot be answered
      hasHttps: health.includes('"httpsPort"'),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A project and a domain row of it in `status`, as the domains API leaves one whose DNS is right. */
export async function addDomain(world: AcmeWorld, project: string, name: string, status: Domain['status'] = 'pending-certificate'): Promise<void> {
  let p = await world.store.db.selectFrom('projects').select('id').where('name', '=', project).executeTakeFirst();
  if (p === undefined) {
    const created = await world.slipway.api('POST', '/api/v1/projects', { name: project, repoUrl: 'https://git.example/site.git' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    p = await world.store.db.selectFrom('projects').select('id').where('name', '=', project).executeTakeFirstOrThrow();
  }
  const now = Date.now();
  await world.store.db
    .insertInto('domains')
    .values({
      name,
      project_id: p.id,
      environment: 'production',
      redirect_to: null,
      redirect_status: null,
      status,
      status_detail: null,
      dns_checked_at: now,
      next_check_at: null,
      check_failures: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

export function domainRow(world: AcmeWorld, name: string): Promise<Domain | undefined> {
  return world.store.db.selectFrom('domains').selectAll().where('name', '=', name).executeTakeFirst();
}

/** The certificate manager's retry schedule for a domain (undefined: none, try when pending). */
export function attempt(world: AcmeWorld, name: string): Promise<{ next_at: number | null; failures: number } | undefined> {
  return world.store.db.selectFrom('certificate_attempts').select(['next_at', 'failures']).where('domain', '=', name).executeTakeFirst();
}

export function waitForDomain(world: AcmeWorld, name: string, accept: (d: Domain) => boolean, timeoutMs = 60_000): Promise<Domain> {
  return waitFor(
    `domain ${name}`,
    async () => {
      const d = await domainRow(world, name);
      return d !== undefined && accept(d) ? d : undefined;
    },
    timeoutMs,
    200,
  );
}

export async function certificateRows(world: AcmeWorld, names: string[]) {
  const want = JSON.stringify([...names].sort());
  const rows = await world.store.db.selectFrom('certificates').selectAll().where('source', '=', 'acme').execute();
  return rows.filter((r) => JSON.stringify((JSON.parse(r.names) as string[]).sort()) === want);
}

/**
 * The stored chain verifies up to pebble's issuing root, the leaf names exactly `names`, and
 * the stored (encrypted) key is the leaf's key.
 */
export async function assertIssued(world: AcmeWorld, row: { cert_pem: string; key_enc: string }, names: string[]): Promise<X509Certificate> {
  const chain = row.cert_pem
    .split(/(?<=-----END CERTIFICATE-----)\s*/)
    .filter((s) => s.includes('BEGIN CERTIFICATE'))
    .map((pem) => new X509Certificate(pem));
  const root = new X509Certificate(await world.pebble.issuingRoot());
  const leaf = chain[0]!;
  const links = [...chain, root];
  for (let i = 0; i + 1 < links.length; i++) {
    assert.ok(links[i]!.checkIssued(links[i + 1]!) && links[i]!.verify(links[i + 1]!.publicKey), `certificate ${i} of the chain is signed by the next one`);
  }
  assert.ok(root.verify(root.publicKey), "pebble's root is self-signed");
  assert.deepEqual(
    (leaf.subjectAltName ?? '')
      .split(', ')
      .map((s) => s.replace(/^DNS:/, ''))
      .sort(),
    [...names].sort(),
  );
  assert.doesNotMatch(row.key_enc, /PRIVATE KEY/, 'the key is stored encrypted');
  assert.ok(leaf.checkPrivateKey(createPrivateKey(world.box.decrypt(row.key_enc))), 'the stored key belongs to the certificate');
  return leaf;
}

/** What BIND answers, asked with dig. */
export function dig(world: AcmeWorld, name: string, type = 'TXT'): string[] {
  const out = execFileSync('dig', ['+short', '+norecurse', '-p', String(world.dns.port), '@127.0.0.1', name, type], { encoding: 'utf8', timeout: 10_000 });
  return out.split('\n').filter(Boolean);
}
