/**
 * The runtime (inside the edge): runs SSR deployments' server processes on loopback and
 * proxies requests to them. Other parts import only this file.
 */
export { Runtime } from './runtime.js';
export type { RuntimeOptions, RuntimeStatus, ServerLimitOverrides } from './options.js';
export { ServerStartError } from './server-process.js';
export { BundleIntegrityError } from './verify.js';
export { discardBundle } from './materialize.js';
export type { MaterializedBundle } from './bundles.js';
export { proxyHttp, type ProxyOptions } from './proxy.js';
export { proxyUpgrade } from './upgrade.js';
export { sendErrorPage } from './pages.js';
export { BUNDLE_UNUSED_MS, createRuntimeGateway, type DeploymentServerSettings, type LocalGateway, type ServerLimits } from './gateway.js';
export { rssLimitMb, treeRss } from './memory.js';
