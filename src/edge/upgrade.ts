import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { requestPath } from './path.js';
import { upgradeAdmitted } from './protection.js';
import type { RouteTable } from './routes.js';
import type { ServerGateway } from './types.js';

/**
 * The http server's 'upgrade' listener: WebSocket and other upgrades go to an SSR deployment's
 * server; a static deployment, an unknown host or a bad target is refused.
 */
export function upgradeHandler(routes: RouteTable, servers: ServerGateway | undefined, report: (message: string, error?: unknown) => void, proto: 'http' | 'https' = 'http') {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    socket.on('error', () => socket.destroy());
    const host = req.headers.host;
    if (host === undefined || requestPath(req.url ?? '') === undefined) return refuse('400 Bad Request');
    const cached = routes.get(host);
    const route = cached?.site !== undefined ? Promise.resolve(cached) : routes.resolve(host);
    route
      .then(async ({ site, settings }) => {
        if (site?.server === undefined || servers === undefined) return refuse('404 Not Found');
        if (settings?.protection !== undefined && !upgradeAdmitted(req, settings.protection)) return refuse('401 Unauthorized');
        const target = await servers.ensure(site.deploymentId, site.server);
        await servers.upgrade(req, socket, head, site.deploymentId, target, { proto, clientIp: req.socket.remoteAddress ?? '' });
      })
      .catch((error: unknown) => {
        report(`upgrade for ${JSON.stringify(host)} failed`, error);
        if (!socket.destroyed) refuse('502 Bad Gateway');
      });
  };
}
