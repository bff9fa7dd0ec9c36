/**
 * The few DNS wire-format pieces (RFC 1035, RFC 2136) that DNS-01 needs: build queries and
 * UPDATE messages, and read answers back. Names are written uncompressed and lower-cased,
 * which is also the canonical form TSIG signs over (RFC 8945 §4.3.3).
 */

export const TYPE = { A: 1, NS: 2, SOA: 6, TXT: 16, TSIG: 250 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;
export const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
};

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
  /** where the record starts in the message (TSIG verification cuts the message there) */
  offset: number;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface DnsMessage {
  id: number;
  flags: number;
  questions: Question[];
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

/** "Example.COM." -> wire labels, lower-cased, uncompressed. */
export function encodeName(name: string): Buffer {
  const labels = name
    .toLowerCase()
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length > 63) throw new Error(`DNS label longer than 63 bytes: ${label}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw new Error(`DNS name longer than 255 bytes: ${name}`);
  return wire;
}

/** TXT rdata: the value in character-strings of at most 255 bytes. */
export function encodeTxt(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

export function decodeTxt(data: Buffer): string {
  let out = '';
  for (let i = 0; i < data.length; ) {
    const len = data[i]!;
    out += data.subarray(i + 1, i + 1 + len).toString('utf8');
    i += 1 + len;
  }
  return out;
}

export function encodeRecord(rr: { name: string; type: number; class: number; ttl: number; data: Buffer }): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(rr.class, 2);
  fixed.writeUInt32BE(rr.ttl, 4);
  fixed.writeUInt16BE(rr.data.length, 8);
  return Buffer.concat([encodeName(rr.name), fixed, rr.data]);
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  for (const [i, n] of counts.entries()) h.writeUInt16BE(n, 4 + i * 2);
  return h;
}

/** A query without recursion desired: we ask the authoritative server itself. */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  const q = Buffer.alloc(4);
  q.writeUInt16BE(type, 0);
  q.writeUInt16BE(CLASS.IN, 2);
  return Buffer.concat([header(id, OPCODE.QUERY << 11, [1, 0, 0, 0]), encodeName(name), q]);
}

/**
 * An RFC 2136 UPDATE for `zone`: no prerequisites, the given update records (class IN adds a
 * record; class NONE with TTL 0 deletes exactly that record, RFC 2136 §2.5.4).
 */
export function encodeUpdate(id: number, zone: string, updates: Array<{ name: string; type: number; class: number; ttl: number; data: Buffer }>): Buffer {
  const z = Buffer.alloc(4);
  z.writeUInt16BE(TYPE.SOA, 0);
  z.writeUInt16BE(CLASS.IN, 2);
  return Buffer.concat([header(id, OPCODE.UPDATE << 11, [1, 0, updates.length, 0]), encodeName(zone), z, ...updates.map(encodeRecord)]);
}

/** Read a possibly compressed name at `offset`; returns it and where the bytes after it start. */
export function readName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let jumps = 0; ; ) {
    if (pos >= msg.length) throw new Error('DNS name runs past the message');
    const len = msg[pos]!;
    if (len === 0) {
      if (next === -1) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length || ++jumps > 64) throw new Error('bad DNS name compression');
      if (next === -1) next = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1]!;
      continue;
    }
    labels.push(
      msg
        .subarray(pos + 1, pos + 1 + len)
        .toString('ascii')
        .toLowerCase(),
    );
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** Parse a whole message. Throws on a truncated or malformed one. */
export function decodeMessage(msg: Buffer): DnsMessage {
  if (msg.length < 12) throw new Error('DNS message shorter than its header');
  const counts = [4, 6, 8, 10].map((o) => msg.readUInt16BE(o)) as [number, number, number, number];
  let pos = 12;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = readName(msg, pos);
    questions.push({ name, type: msg.readUInt16BE(next), class: msg.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  const section = (n: number): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < n; i++) {
      const offset = pos;
      const { name, next } = readName(msg, pos);
      if (next + 10 > msg.length) throw new Error('DNS record runs past the message');
      const len = msg.readUInt16BE(next + 8);
      if (next + 10 + len > msg.length) throw new Error('DNS record data runs past the message');
      out.push({ name, type: msg.readUInt16BE(next), class: msg.readUInt16BE(next + 2), ttl: msg.readUInt32BE(next + 4), data: msg.subarray(next + 10, next + 10 + len), offset });
      pos = next + 10 + len;
    }
    return out;
  };
  const answers = section(counts[1]);
  const authority = section(counts[2]);
  const additional = section(counts[3]);
  return { id: msg.readUInt16BE(0), flags: msg.readUInt16BE(2), questions, answers, authority, additional };
}

export function rcodeOf(message: DnsMessage): number {
  return message.flags & 0x0f;
}

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
}
