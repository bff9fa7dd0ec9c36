/**
 * Just enough of a TLS ClientHello (RFC 8446 4.1.2) to read the two things a server needs before
 * it picks a certificate for TLS-ALPN-01 (RFC 8737): the SNI name and the ALPN protocols offered.
 * node:tls picks the certificate in SNICallback, which does not see ALPN, so the edge peeks at
 * the first record itself while a challenge is pending.
 */

export interface ClientHelloInfo {
  /** the server_name extension's host name, lower-cased; undefined when absent */
  servername: string | undefined;
  /** the application_layer_protocol_negotiation extension's protocols, in the client's order */
  alpn: string[];
}

/** The first record is complete in `data`, or it can never be a ClientHello: decide now. */
export function clientHelloComplete(data: Buffer): boolean {
  if (data.length >= 1 && data[0] !== 0x16) return true; // not a handshake record: nothing to wait for
  if (data.length < 5) return false;
  return data.length >= 5 + data.readUInt16BE(3);
}

/** Largest first record worth waiting for (a TLS record holds at most 2^14 bytes plus its header). */
export const MAX_CLIENT_HELLO_BYTES = 5 + 16_384;

/**
 * Parse the ClientHello in the first TLS record of `data`; undefined when it is not one or is
 * malformed (the caller then hands the connection to node:tls, which answers it properly).
 *
 * ```ts
 * parseClientHello(firstBytes) // { servername: 'example.com', alpn: ['acme-tls/1'] }
 * ```
 */
export function parseClientHello(data: Buffer): ClientHelloInfo | undefined {
  try {
    if (data.length < 5 || data[0] !== 0x16) return undefined;
    const record = data.subarray(5, 5 + data.readUInt16BE(3));
    // handshake header: type 1 (client_hello), 3-byte length
    if (record.length < 4 || record[0] !== 0x01) return undefined;
    const hello = record.subarray(4, 4 + record.readUIntBE(1, 3));
    let at = 2 + 32; // legacy_version, random
    at += 1 + hello.readUInt8(at); // legacy_session_id
    at += 2 + hello.readUInt16BE(at); // cipher_suites
    at += 1 + hello.readUInt8(at); // legacy_compression_methods
    const info: ClientHelloInfo = { servername: undefined, alpn: [] };
    if (at === hello.length) return info; // no extensions at all
    const end = at + 2 + hello.readUInt16BE(at);
    if (end > hello.length) return undefined;
    at += 2;
    while (at + 4 <= end) {
      const type = hello.readUInt16BE(at);
      const body = hello.subarray(at + 4, at + 4 + hello.readUInt16BE(at + 2));
      at += 4 + body.length;
      if (type === 0x0000) info.servername = readServerName(body);
      else if (type === 0x0010) info.alpn = readProtocols(body);
    }
    return info;
  } catch {
    return undefined; // a read past the end: truncated or malformed
  }
}

/** server_name_list: 2-byte length, then entries of type (1 byte, 0 = host_name) + 2-byte length + name */
function readServerName(body: Buffer): string | undefined {
  let at = 2;
  while (at + 3 <= body.length) {
    const type = body.readUInt8(at);
    const length = body.readUInt16BE(at + 1);
    if (type === 0)
      return body
        .subarray(at + 3, at + 3 + length)
        .toString('latin1')
        .toLowerCase();
    at += 3 + length;
  }
  return undefined;
}

/** protocol_name_list: 2-byte length, then entries of a 1-byte length + name */
function readProtocols(body: Buffer): string[] {
  const out: string[] = [];
  let at = 2;
  while (at < body.length) {
    const length = body.readUInt8(at);
    out.push(body.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  return out;
}
