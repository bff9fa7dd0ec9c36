import { randomBytes, sign, type KeyObject } from 'node:crypto';

/*
 * A small X.509 v3 certificate writer (DER, RFC 5280) for the certificates Slipway makes itself:
 * the default certificate and, in tests, a CA and its leaves. ECDSA P-256 with SHA-256 only.
 * (@peculiar/x509 2.x needs a reflect-metadata polyfill the project does not depend on.)
 */

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);
const octets = (body: Buffer) => tlv(0x04, body);
const bits = (body: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), body]));
const TRUE = Buffer.from([0x01, 0x01, 0xff]);

function integer(value: Buffer): Buffer {
  let v = value;
  while (v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0) v = v.subarray(1);
  return tlv(0x02, (v[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5) */
function time(at: Date): Buffer {
  const iso = `${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  return at.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'latin1')) : tlv(0x18, Buffer.from(iso, 'latin1'));
}

const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [TRUE] : []), octets(value));

export interface CertificateSpec {
  /** the subject's common name (and, when self-signed, the issuer's) */
  commonName: string;
  /** DNS names (subjectAltName); none for a CA */
  dnsNames: string[];
  notBefore: Date;
  notAfter: Date;
  /** the subject's public key */
  publicKey: KeyObject;
  /** who signs: omitted, the certificate is self-signed with `selfKey` */
  issuer?: { commonName: string; privateKey: KeyObject };
  /** the subject's private key, when self-signed */
  selfKey?: KeyObject;
  /** a CA that may sign leaves (keyCertSign), else a TLS server leaf (digitalSignature) */
  ca?: boolean;
}

/**
 * A PEM X.509 certificate for `spec`.
 * `createCertificatePem({ commonName: 'x', dnsNames: ['x'], notBefore, notAfter, publicKey, selfKey: privateKey })`
 */
export function createCertificatePem(spec: CertificateSpec): string {
  const signer = spec.issuer?.privateKey ?? spec.selfKey;
  if (signer === undefined) throw new Error('a certificate needs an issuer or its own key to sign it');
  const extensions = [
    extension('2.5.29.19', true, spec.ca === true ? seq(TRUE) : seq()), // basicConstraints
    // keyUsage: keyCertSign + cRLSign (bits 5, 6) for a CA, digitalSignature (bit 0) for a leaf
    extension('2.5.29.15', true, spec.ca === true ? bits(Buffer.from([0x06]), 1) : bits(Buffer.from([0x80]), 7)),
  ];
  if (spec.dnsNames.length > 0) {
    extensions.push(extension('2.5.29.17', false, seq(...spec.dnsNames.map((dns) => tlv(0x82, Buffer.from(dns, 'latin1'))))));
  }
  if (spec.ca !== true) extensions.push(extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1')))); // extKeyUsage serverAuth
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    name(spec.issuer?.commonName ?? spec.commonName),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.commonName),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  const der = seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, signer)));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}
