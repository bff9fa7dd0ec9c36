// The shapes the API answers (only the fields the dashboard reads).

export type Role = 'owner' | 'member' | 'viewer';
export interface Team {
  slug: string;
  name: string;
  role: Role;
}
export interface Me {
  user: { id: string; email: string | null; name: string | null };
  admin: boolean;
  teams: Team[];
  csrfToken?: string;
}
export interface Project {
  id: string;
  name: string;
  team?: string;
  repoUrl: string;
  productionBranch: string;
  rootDirectory: string | null;
  installCommand: string | null;
  buildCommand: string | null;
  outputDirectory: string | null;
  buildTimeoutSeconds: number;
  serverMemoryMb: number | null;
  serverRequestTimeoutSeconds: number;
  buildMemoryMb: number;
  buildDiskMb: number;
  buildPids: number;
  buildCpuShares: number;
  serverPids: number;
  serverCpuShares: number;
  nodeVersion: string | null;
  webhookUrl: string;
  webhookSecret?: string;
  productionUrl: string;
  productionDeploymentId: string | null;
  createdAt: string;
}
export type Status = 'queued' | 'building' | 'deploying' | 'ready' | 'failed' | 'canceled' | 'awaiting-approval' | 'rejected' | 'removed';
export interface Deployment {
  id: string;
  project: string;
  status: Status;
  target: 'production' | 'preview';
  /** production, preview or a named one (staging) */
  environment: string;
  trigger: string;
  isProduction: boolean;
  branch: string | null;
  commit: { sha: string; message: string | null; author: string | null };
  url: string;
  branchUrl: string | null;
  /** the pull request's preview (pr-<n>--<project>) */
  pullRequestUrl?: string | null;
  pullRequest?: number | null;
  /** what the git host was told (GET /deployments/<id> only) */
  gitHost?: { provider: string; repo: string; state: string | null; sent: string[]; attempts: number; lastError: string | null; nextAttemptAt: string | null } | null;
  timings: Record<string, number> | null;
  build: { framework?: { name?: string; id?: string }; cache?: { dependencies?: string; frameworkCache?: string }; packageManager?: string; node?: { version?: string } } | null;
  error: { code: string; phase: string | null; message: string | null; hint?: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
export interface EnvVar {
  key: string;
  value: string;
  targets: string[];
  updatedAt: string;
}
export interface DnsRecord {
  type: string;
  name: string;
  value: string;
}
export interface Domain {
  name: string;
  status: string;
  statusDetail: string | null;
  todo: string;
  redirect: { to: string; status: number } | null;
  dns: { addresses: DnsRecord[]; anyOne: boolean; cname: DnsRecord | null; notes: string[]; checkedAt: string | null };
}
export interface Member {
  id?: string;
  userId?: string;
  email: string;
  name?: string | null;
  role: Role;
}
export interface ApiToken {
  id: string;
  name: string;
  team?: string | null;
  project?: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}
export interface AuditEvent {
  id: string;
  at: string;
  actor: { type: string; id: string; email?: string | null };
  action: string;
  target: string | null;
  details?: unknown;
}
/** one request the edge answered (GET /projects/<p>/logs) */
export interface AccessLine {
  id: number;
  at: string;
  method: string;
  host: string;
  path: string;
  status: number;
  bytes: number;
  durationMs: number;
  deploymentId: string;
  clientIp: string;
}
/** one line an SSR server printed (GET /projects/<p>/logs?type=server) */
export interface ServerLine {
  id: number;
  at: string;
  deploymentId: string;
  text: string;
}
export interface LogPage {
  project: string;
  type: 'access' | 'server';
  lines: (AccessLine | ServerLine)[];
  next: string;
}
