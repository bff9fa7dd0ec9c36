import { BlockList, isIP } from 'node:net';
import { AppError } from '../errors/index.js';

export interface NotifyConfig {
  /** --notify-allow / SLIPWAY_NOTIFY_ALLOW: private addresses or networks webhooks may reach anyway ("10.0.0.7", "10.1.0.0/16", "127.0.0.1") */
  readonly allow: readonly string[];
}

/** Read --notify-allow; a bad entry stops the start with an example. */
export function parseNotifyConfig(pick: (flag: string, envName: string) => string | undefined): NotifyConfig {
  const raw = pick('notify-allow', 'SLIPWAY_NOTIFY_ALLOW');
  const entries = (raw ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address, prefix] = entry.split('/', 2);
    const family = isIP(address ?? '');
    const bits = prefix === undefined ? undefined : Number(prefix);
    if (family === 0 || (bits !== undefined && (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)))) {
      throw new AppError('CONFIG', `--notify-allow takes IP addresses or networks, got ${JSON.stringify(entry)}.`, { hint: 'For example: --notify-allow 10.0.0.7,10.1.0.0/16' });
    }
  }
  return Object.freeze({ allow: Object.freeze(entries) });
}

/** The operator's exceptions as a BlockList (a list of what is allowed, despite its name). */
export function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/', 2) as [string, string | undefined];
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}
