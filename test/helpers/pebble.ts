// @peculiar/x509 2.x wants a Reflect.metadata polyfill loaded first (its README): reflect-metadata, a devDependency like it
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { spawn, spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './paths.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface PebbleOptions {
  /** where pebble sends HTTP-01 validations (the Slipway edge's HTTP port) */
  httpPort: number;
  /** where it sends TLS-ALPN-01 validations (the edge's HTTPS port); default: a port nobody listens on */
  tlsPort?: number;
  /** "127.0.0.1:<port>" of the DNS server pebble resolves names and DNS-01 TXT records with */
  dnsServer: string;
  /** the ACME port (default: a free one) */
  listenPort?: number;
  /** lifetime of the certificates it issues, seconds (pebble's certificateValidityPeriod); default pebble's (5 years) */
  validitySeconds?: number;
}

export interface RunningPebble {
  /** the ACME directory URL */
  directory: string;
  /** PEM of the CA that signed pebble's own HTTPS certificate (for --acme-ca-file) */
  caFile: string;
  caPem: string;
  /** PEM of the root pebble signs issued chains with (its management interface's /roots/0) */
  issuingRoot(): Promise<string>;
  output(): string;
  close(): Promise<void>;
}

/** Is pebble installed? Tests skip with this reason when not. */
export function pebbleMissing(): string | false {
  return spawnSync('which', ['pebble']).status === 0 ? false : 'needs pebble (Debian package pebble)';
}

/**
 * A real pebble (the ACME test CA from Debian) on 127.0.0.1 with an HTTPS certificate from a
 * CA made here, validating against the given ports and DNS server, with no artificial sleeps
 * and no rejected nonces. Resolves once its directory answers.
 */
export async function startPebble(opts: PebbleOptions): Promise<RunningPebble> {
  const dir = await tempDir('slipway-pebble-');
  const tls = await makeServerCertificate();
  const caFile = join(dir.path, 'ca.pem');
  await writeFile(caFile, tls.caPem);
  await writeFile(join(dir.path, 'cert.pem'), tls.certPem);
  await writeFile(join(dir.path, 'key.pem'), tls.keyPem, { mode: 0o600 });
  const [listen, management, unusedTls] = [opts.listenPort ?? (await freePort()), await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listen}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: join(dir.path, 'cert.pem'),
      privateKey: join(dir.path, 'key.pem'),
      httpPort: opts.httpPort,
      tlsPort: opts.tlsPort ?? unusedTls,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(opts.validitySeconds === undefined ? {} : { certificateValidityPeriod: opts.validitySeconds }),
    },
  };
  const configFile = join(dir.path, 'pebble-config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const child = spawn('pebble', ['-config', configFile, '-dnsserver', opts.dnsServer], {
    // every order validated again (no reused authorizations), at full speed, no nonce rejections
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await dir.cleanup();
  };
  const directory = `https://127.0.0.1:${listen}/dir`;
  try {
    const until = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`pebble exited (${child.exitCode}):\n${out}`);
      if ((await httpsGet(directory, tls.caPem).catch(() => undefined))?.status === 200) break;
      if (Date.now() > until) throw new Error(`pebble did not answer within 15 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    directory,
    caFile,
    caPem: tls.caPem,
    async issuingRoot() {
      const res = await httpsGet(`https://127.0.0.1:${management}/roots/0`, tls.caPem);
      if (res.status !== 200) throw new Error(`pebble /roots/0 answered ${res.status}`);
      return res.body;
    },
    output: () => out,
    close,
  };
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { ca, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** A throwaway CA and a certificate it signs for localhost / 127.0.0.1 (pebble's own HTTPS). */
async function makeServerCertificate(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const now = Date.now();
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + 86_400_000);
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Slipway test CA for pebble',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { caPem: ca.toString('pem'), certPem: cert.toString('pem'), keyPem };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
