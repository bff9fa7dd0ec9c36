/**
 * The runtime (inside the edge): runs SSR deployments' server processes on loopback and
 * proxies requests to them. Other parts import only this file.
 */
export { Runtime, type RuntimeOptions, type RuntimeStatus } from './runtime.js';
export { ServerStartError } from './server-process.js';
export type { ProxyOptions } from './proxy.js';
export { createRuntimeGateway, type ServerLimits } from './gateway.js';
