import { execFile } from 'node:child_process';
import { alive } from './alive.js';
import { readdir, readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { attempt } from './probe.js';

/*
 * Each sandbox (a build, or one SSR server) gets a network namespace of its own, joined to the
 * host by a veth pair on a /30 of SUBNET: the host end is .1, the sandbox's eth0 is .2. Its
 * traffic leaves through the host's NAT, so it reaches the internet, and the SLIPWAY-* chains
 * keep it off everything that is not the internet:
 *   INPUT   from a sandbox: only replies (the host's own addresses, and so Slipway's API on
 *           0.0.0.0, its loopback services and the edge, are unreachable)
 *   FORWARD from a sandbox: the system's DNS resolvers and operator-allowed destinations; never
 *           private, loopback, link-local (cloud metadata), CGNAT or multicast ranges, the host's
 *           own networks, or another sandbox; anything else (the internet) is accepted
 * The edge reaches a server at its eth0 address; nothing else routes into a sandbox.
 * Why not slirp4netns or pasta: both relay every byte in user space (the edge -> server path
 * would pay for it on every request), and neither can keep a sandbox off the host's other
 * addresses or private networks without these same firewall rules. A veth pair is the kernel's
 * own path, and as root we can set it up in a few milliseconds.
 */

const SUBNET_BASE = (10 << 24) | (89 << 16); // 10.89.0.0/16: 16,384 sandboxes of a /30 each
const SLOTS = 16_384;
const NETNS_DIR = '/run/netns';
const OWNERS_DIR = '/run/slipway-netns';
const PREFIX = 'slw-';
const BLOCKED = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4'];

export interface NetworkPolicy {
  /** destinations sandboxes may reach although they are in a blocked range: "10.1.2.3", "10.0.0.0/8", "10.1.2.3:5432" */
  allow: string[];
}

export interface SandboxNetwork {
  /** the namespace to run in: `nsenter --net=<path>` */
  path: string;
  /** where the host reaches the sandbox (a server listens on 0.0.0.0 inside) */
  address: string;
  release(): Promise<void>;
}

let rulesReady: Promise<void> | undefined;
const taken = new Set<number>();

/**
 * Make a fresh network namespace for one sandbox. The firewall rules are installed (or
 * refreshed) on first use in this process.
 */
export async function createNetwork(policy: NetworkPolicy): Promise<SandboxNetwork> {
  rulesReady ??= installRules(policy);
  await rulesReady;
  await mkdir(OWNERS_DIR, { recursive: true, mode: 0o700 });
  // a random start spreads concurrent Slipway processes; `netns add` failing on a taken name is the lock
  let slot = Math.floor(Math.random() * SLOTS);
  for (let tries = 0; ; tries++) {
    if (tries >= 64) throw new Error('no free sandbox network slot (64 tries)');
    slot = (slot + 1) % SLOTS;
    if (taken.has(slot)) continue;
    if ((await attempt('ip', ['netns', 'add', `${PREFIX}${slot}`])) === undefined) break;
  }
  taken.add(slot);
  const name = `${PREFIX}${slot}`;
  const release = async () => {
    await attempt('ip', ['netns', 'del', name]);
    await rm(join(OWNERS_DIR, String(slot)), { force: true });
    taken.delete(slot);
  };
  try {
    await writeFile(join(OWNERS_DIR, String(slot)), String(process.pid));
    const base = SUBNET_BASE + slot * 4;
    const host = ipv4(base + 1);
    const inside = ipv4(base + 2);
    const hostIf = `slw${slot}h`;
    await ipBatch([], [`link add ${hostIf} type veth peer name eth0 netns ${name}`]);
    // no IPv6 on the link: the sandbox must not reach the host over a link-local address
    await writeFile(`/proc/sys/net/ipv6/conf/${hostIf}/disable_ipv6`, '1').catch(() => undefined);
    await ipBatch([], [`addr add ${host}/30 dev ${hostIf}`, `link set ${hostIf} up`]);
    await ipBatch(['-n', name], ['link set lo up', `addr add ${inside}/30 dev eth0`, 'link set eth0 up', `route add default via ${host}`]);
    return { path: join(NETNS_DIR, name), address: inside, release };
  } catch (err) {
    await release();
    throw new Error(`could not set up the sandbox network: ${(err as Error).message}`, { cause: err });
  }
}

/** Remove the namespaces of Slipway processes that are gone (their veth pairs go with them). */
export async function sweepNetworks(): Promise<number> {
  const owners = await readdir(OWNERS_DIR).catch(() => [] as string[]);
  let swept = 0;
  for (const slot of owners) {
    const pid = Number(await readFile(join(OWNERS_DIR, slot), 'utf8').catch(() => '0'));
    if (pid === process.pid || alive(pid)) continue;
    await attempt('ip', ['netns', 'del', `${PREFIX}${slot}`]);
    await rm(join(OWNERS_DIR, slot), { force: true });
    swept++;
  }
  return swept;
}

async function installRules(policy: NetworkPolicy): Promise<void> {
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
  const resolvers = await systemResolvers();
  const local = await hostNetworks();
  const reject = '-j REJECT --reject-with icmp-admin-prohibited';
  const accept = (dest: string, proto?: string, port = '53') => `-A SLIPWAY-FWD -i slw+ -d ${dest}${proto === undefined ? '' : ` -p ${proto} --dport ${port}`} -j ACCEPT`;
  const rules = [
    '*filter',
    // declaring a chain with --noflush empties it: the new rules replace the old in one commit,
    // so a concurrent Slipway refreshing them never leaves a moment without them
    ':SLIPWAY-IN - [0:0]',
    ':SLIPWAY-FWD - [0:0]',
    '-A SLIPWAY-IN -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    `-A SLIPWAY-IN ${reject}`,
    '-A SLIPWAY-FWD -o slw+ -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    `-A SLIPWAY-FWD -o slw+ ${reject}`,
    ...resolvers.flatMap((ip) => [accept(ip, 'udp'), accept(ip, 'tcp')]),
    ...policy.allow.flatMap((entry) => {
      const [dest, port] = entry.split(':') as [string, string | undefined];
      return port === undefined ? [accept(dest)] : [accept(dest, 'tcp', port), accept(dest, 'udp', port)];
    }),
    ...[...BLOCKED, ...local].map((range) => `-A SLIPWAY-FWD -i slw+ -d ${range} ${reject}`),
    '-A SLIPWAY-FWD -i slw+ -j ACCEPT',
    'COMMIT',
    '*nat',
    ':SLIPWAY-NAT - [0:0]',
    '-A SLIPWAY-NAT -s 10.89.0.0/16 ! -d 10.89.0.0/16 -j MASQUERADE',
    'COMMIT',
  ];
  const why = await attempt('iptables-restore', ['--noflush'], `${rules.join('\n')}\n`);
  if (why !== undefined) throw new Error(`iptables-restore: ${why}`);
  await jumpOnce(['INPUT', '-i', 'slw+', '-j', 'SLIPWAY-IN']);
  await jumpOnce(['FORWARD', '-j', 'SLIPWAY-FWD']);
  await jumpOnce(['POSTROUTING', '-j', 'SLIPWAY-NAT'], 'nat');
}

/** Insert a jump at the top of a built-in chain unless it is there already. */
async function jumpOnce(rule: string[], table?: string): Promise<void> {
  const t = table === undefined ? [] : ['-t', table];
  if ((await attempt('iptables', [...t, '-C', ...rule])) === undefined) return;
  await run('iptables', [...t, '-I', rule[0]!, '1', ...rule.slice(1)]);
}

async function systemResolvers(): Promise<string[]> {
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  return [...text.matchAll(/^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map((m) => m[1]!);
}

/** The networks the host's own interfaces are on (other than the sandboxes'): "192.0.2.0/24". */
async function hostNetworks(): Promise<string[]> {
  const out = await output('ip', ['-4', '-o', 'route', 'show', 'scope', 'link']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((net) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(net) && !net.startsWith('10.89.'));
}

function ipBatch(options: string[], lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', [...options, '-batch', '-'], { timeout: 10_000 }, (err, _out, stderr) => (err === null ? resolve() : reject(new Error(stderr.trim() || err.message))));
    child.stdin?.end(`${lines.join('\n')}\n`);
  });
}

async function run(file: string, args: string[]): Promise<void> {
  const why = await attempt(file, args);
  if (why !== undefined) throw new Error(`${file} ${args.join(' ')}: ${why}`);
}

function output(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => execFile(file, args, { timeout: 10_000 }, (err, stdout) => resolve(err === null ? stdout : '')));
}

function ipv4(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
