import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './paths.js';

/** A DNS record in zone-file syntax relative to the zone: `{ name: 'www', type: 'A', value: '127.0.0.1' }` ('@' is the apex). */
export interface ZoneRecord {
  name: string;
  type: string;
  value: string;
  ttl?: number;
}

export interface BindZone {
  /** "example.test" */
  name: string;
  records: ZoneRecord[];
}

export interface TsigKey {
  name: string;
  /** "hmac-sha256" */
  algorithm: string;
  /** base64 */
  secret: string;
}

export interface RunningBind {
  host: string;
  port: number;
  /** "127.0.0.1:<port>", as SLIPWAY_DNS_SERVERS takes it */
  address: string;
  /** the key every zone accepts RFC 2136 updates signed with */
  tsig: TsigKey;
  /**
   * Change records live with `nsupdate` (RFC 2136, signed with the TSIG key), e.g.
   * `await dns.update(['update add www.example.test 5 A 127.0.0.1'])` or `update delete www.example.test A`.
   */
  update(commands: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real BIND 9 (`named` from Debian) on 127.0.0.1 and a free port, serving the given zones
 * authoritatively, each accepting dynamic updates (RFC 2136) signed with a fresh TSIG key.
 * Resolves once it answers queries. Skip the test with a reason when `named` is missing.
 *
 * ```ts
 * const dns = await startBind([{ name: 'example.test', records: [{ name: 'www', type: 'A', value: '127.0.0.1' }] }]);
 * // SLIPWAY_DNS_SERVERS=dns.address
 * await dns.close();
 * ```
 */
export async function startBind(zones: BindZone[]): Promise<RunningBind> {
  const dir = await tempDir('slipway-bind-');
  const port = await freeUdpAndTcpPort();
  const tsig: TsigKey = { name: 'slipway-test-key', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
  const zoneFile = (name: string) => join(dir.path, `${name}.zone`);
  const writeZone = (zone: BindZone) => writeFile(zoneFile(zone.name), zoneText(zone));
  for (const zone of zones) await writeZone(zone);
  const conf = [
    `key "${tsig.name}" { algorithm ${tsig.algorithm}; secret "${tsig.secret}"; };`,
    'options {',
    `  directory "${dir.path}";`,
    `  pid-file "${join(dir.path, 'named.pid')}";`,
    `  session-keyfile "${join(dir.path, 'session.key')}";`,
    `  managed-keys-directory "${dir.path}";`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    '  listen-on-v6 { none; };',
    '  recursion no;',
    '  dnssec-validation no;',
    '  notify no;',
    '};',
    `controls { };`,
    ...zones.map((zone) => `zone "${zone.name}" { type primary; file "${zoneFile(zone.name)}"; allow-update { key "${tsig.name}"; }; };`),
  ].join('\n');
  const confFile = join(dir.path, 'named.conf');
  await writeFile(confFile, `${conf}\n`);

  // -g: foreground, log to stderr; -n 1: one worker thread (the machine is small)
  const child = spawn('named', ['-g', '-n', '1', '-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await dir.cleanup();
  };
  try {
    await waitUntilAnswering(child, port, zones[0]?.name ?? '.', () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    tsig,
    async update(commands) {
      const script = [`server 127.0.0.1 ${port}`, ...commands, 'send', ''].join('\n');
      await new Promise<void>((resolve, reject) => {
        const nsupdate = spawn('nsupdate', ['-y', `${tsig.algorithm}:${tsig.name}:${tsig.secret}`], { stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        nsupdate.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
        const timer = setTimeout(() => nsupdate.kill('SIGKILL'), 10_000);
        nsupdate.once('error', reject);
        nsupdate.once('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve();
          else reject(new Error(`nsupdate failed (${code}): ${err}`));
        });
        nsupdate.stdin!.end(script);
      });
    },
    close: stop,
  };
}

function zoneText(zone: BindZone): string {
  // the serial follows the clock, so a rewritten zone is always newer
  const serial = Math.floor(Date.now() / 1000);
  const lines = [
    '$TTL 5',
    `@ IN SOA ns.${zone.name}. hostmaster.${zone.name}. ${serial} 60 60 600 5`,
    `@ IN NS ns.${zone.name}.`,
    'ns IN A 127.0.0.1',
    ...zone.records.map((r) => `${r.name} ${r.ttl ?? 5} IN ${r.type} ${r.type === 'TXT' && !r.value.startsWith('"') ? JSON.stringify(r.value) : r.value}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** A port free for both TCP and UDP on 127.0.0.1 (DNS listens on both). */
async function freeUdpAndTcpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = createServer();
    await new Promise<void>((resolve, reject) => tcp.once('error', reject).listen(0, '127.0.0.1', resolve));
    const { port } = tcp.address() as AddressInfo;
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    await new Promise((resolve) => tcp.close(resolve));
    if (free) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

/** Poll with a real SOA query over UDP until named answers (it loads zones after it starts listening). */
async function waitUntilAnswering(child: ChildProcess, port: number, zone: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`named exited (${child.exitCode}):\n${log()}`);
    if (await answersSoa(port, zone)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`named did not answer on 127.0.0.1:${port} within 15 s:\n${log()}`);
}

function answersSoa(port: number, zone: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const id = randomBytes(2);
    const qname = Buffer.concat([
      ...zone
        .split('.')
        .filter(Boolean)
        .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)])),
      Buffer.from([0]),
    ]);
    // header: id, RD=0, one question; question: name, type SOA (6), class IN (1)
    const query = Buffer.concat([id, Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), qname, Buffer.from([0, 6, 0, 1])]);
    const timer = setTimeout(() => finish(false), 300);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    socket.once('error', () => finish(false));
    socket.once('message', (msg) => {
      // the id matches and RCODE is NOERROR (0) with at least one answer
      finish(msg.length > 12 && msg[0] === id[0] && msg[1] === id[1] && (msg[3]! & 0x0f) === 0 && msg.readUInt16BE(6) > 0);
    });
    socket.send(query, port, '127.0.0.1');
  });
}
