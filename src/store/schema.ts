import type { Generated, Insertable, Selectable } from 'kysely';
import type { AuditEventTable, InvitationTable, LoginAttemptTable, MembershipTable, SessionTable, TeamTable, TokenTable, UserTable } from './schema-accounts.js';
import type { AcmeAccountTable, AcmeChallengeTable, AcmeEventTable, CertificateAttemptTable, CertificateTable, DomainTable } from './schema-domains.js';
import type { BuildCacheEntryTable } from './schema-blobs.js';
import type { AwsDeploymentTable, DeployTargetTable, TeamAwsAccessTable } from './schema-aws.js';
import type { AwsCertificateTable, AwsDomainTable } from './schema-aws-domains.js';
import type { GitHostCommentTable, GitHostReportTable, TeamGitHostTable } from './schema-githost.js';
import type { InboundMailTable, NotificationAttemptTable, NotificationDeliveryTable, NotificationEndpointTable, NotificationEventTable, ProjectMailAddressTable } from './schema-notify.js';
import type { GcStateTable, ProjectRetentionTable } from './schema-retention.js';
import type { AccessLogTable, LogDrainTable, ServerLogTable } from './schema-observability.js';

export type { AuditEventTable, InvitationTable, LoginAttemptTable, MembershipTable, Role, SessionTable, TeamTable, TokenTable, UserTable } from './schema-accounts.js';
export type { AcmeAccountTable, AcmeChallengeTable, AcmeEventTable, CertificateAttemptTable, CertificateTable, DomainStatus, DomainTable } from './schema-domains.js';
export type { GitHostCommentTable, GitHostReportTable, TeamGitHostTable } from './schema-githost.js';
export type * from './schema-notify.js';
export type { GcStateTable, ProjectRetentionTable } from './schema-retention.js';

/** Times are integer milliseconds since the epoch in both dialects. */
export interface ProjectTable {
  id: string;
  name: string;
  repo_url: string;
  production_branch: string;
  root_directory: string | null;
  install_command: string | null;
  build_command: string | null;
  output_directory: string | null;
  build_timeout_seconds: number | null;
  /** encrypted with the platform key (SecretBox) */
  webhook_secret: string;
  created_at: number;
  /** V8 heap limit of the project's SSR servers, MiB (null: the platform's --server-memory-mb) */
  server_memory_mb: number | null;
  /** time an SSR server has to answer before the edge sends 504 (null: the platform's flag) */
  server_request_timeout_seconds: number | null;
  /** memory of the project's builds, MiB, at most the operator's --build-memory-mb (null: that) */
  build_memory_mb: number | null;
  /** size cap of the project's build folder, MiB, at most the operator's --build-disk-mb (null: that) */
  build_disk_mb: number | null;
  /** processes and threads of the project's builds, at most --build-pids (null: that) */
  build_pids: number | null;
  /** CPU weight of the project's builds among builds, at most --build-cpu-shares (null: that) */
  build_cpu_shares: number | null;
  /** processes and threads of each of the project's SSR servers, at most --server-pids (null: that) */
  server_pids: number | null;
  /** CPU weight of each of the project's SSR servers among servers (null: 1024, every server's default) */
  server_cpu_shares: number | null;
  /** the Node.js the project's builds and servers run on ("22", "lts/*", ">=20"); null: what the repository declares */
  node_version: string | null;
  /** Strict-Transport-Security max-age, seconds, sent on the project's HTTPS responses (null: no HSTS) */
  hsts_max_age: number | null;
  /** 1: site rules may rewrite to outside https:// URLs, which the edge then proxies (null/0: refused) */
  external_rewrites: number | null;
  /** the team that owns it (null only for rows made outside the API, which only the installation admin sees) */
  team_id: string | null;
  /** 0: pushes to other branches and pull requests build nothing (default 1) */
  previews_enabled: Generated<number>;
  /** JSON {"include"?: string[], "exclude"?: string[]} of branch globs for previews (null: all) */
  preview_branches: string | null;
  /** JSON {"paths": string[]} or {"command": string}: when a webhook push is not built (null: never skipped) */
  ignored_build_step: string | null;
  /** 1: pull requests from forks build (without the project's variables); default 0 */
  fork_previews: Generated<number>;
}

/** an environment's name: 'production', 'preview' or a named one ('staging') */
export type EnvTarget = string;

export interface EnvVarTable {
  id: string;
  project_id: string;
  key: string;
  /** set: a value for deployments of this branch only, over the environment's own */
  branch: string | null;
  /** encrypted with the platform key (SecretBox) */
  value: string;
  /** comma-separated and sorted environment names: "preview,production", "staging" */
  targets: string;
  created_at: number;
  updated_at: number;
}

/** awaiting-approval: built and stored, waiting for a person to let it take its environment's alias; rejected: refused; removed: taken by retention (its files and logs are gone) */
export type DeploymentStatus = 'queued' | 'building' | 'deploying' | 'ready' | 'failed' | 'canceled' | 'awaiting-approval' | 'rejected' | 'removed';

export interface DeploymentTable {
  id: string;
  project_id: string;
  /** increasing per database: orders deployments without relying on clock ties */
  seq: Generated<number>;
  status: DeploymentStatus;
  /** 'production' moves the production alias when ready; 'preview' does not */
  target: 'production' | 'preview';
  trigger: 'webhook' | 'api';
  branch: string | null;
  commit_sha: string;
  commit_message: string | null;
  commit_author: string | null;
  manifest_hash: string | null;
  files_total: number | null;
  files_uploaded: number | null;
  bytes_uploaded: number | null;
  /** JSON: { fetchMs, installMs, buildMs, packageMs, totalMs } */
  timings: string | null;
  /** JSON: { framework: { id, name, reason, variant? }, packageManager, packageManagerVersion, packageManagerReason, cache: {...}, node: { version, reason, fetchMs } } */
  build_info: string | null;
  error_code: string | null;
  error_phase: string | null;
  error_message: string | null;
  attempts: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** the project's variables for this deployment's target when it was created: SecretBox-encrypted JSON object (null: none) */
  env: string | null;
  /** the project's server limits when the deployment was created (null: the platform's flags) */
  server_memory_mb: number | null;
  /** the project's server_pids when the deployment was made (null: the platform's --server-pids) */
  server_pids: number | null;
  /** the project's server_cpu_shares when the deployment was made (null: 1024) */
  server_cpu_shares: number | null;
  server_request_timeout_seconds: number | null;
  /** why an edge or runtime refused one of its blobs (bytes changed after they were stored); null: never */
  integrity_error: string | null;
  /** the environment it goes live in: 'production', 'preview' or a named one ('staging') */
  environment: string;
  /** the pull/merge request it was built for (null: a branch push or a deploy by hand) */
  pr_number: number | null;
  /** the repository at the git host, "owner/name" (null: unknown) */
  source_repo: string | null;
  /** a pull request from a fork: the fork's "owner/name" (null: the same repository) */
  head_repo: string | null;
  source_provider: 'github' | 'gitlab' | 'gitea' | null;
  /** when every live edge served it (migration 0017; null: not yet) */
  live_at: number | null;
}

/** A project's environment settings (production and preview have defaults without a row). */
export interface EnvironmentTable {
  project_id: string;
  name: string;
  /** the branch whose pushes deploy to it (null for production: the project's production branch) */
  branch: string | null;
  requires_approval: number;
  approvers: 'owner' | 'member';
  /** 0: a ready build does not take the alias by itself */
  auto_promote: number;
  protection_mode: 'password' | 'token' | null;
  /** password: salted scrypt hash; token: sha256 of the bypass token */
  protection_hash: string | null;
  /** hex key that signs the access cookie of the environment's hosts */
  protection_key: string | null;
  created_at: number;
  updated_at: number;
}

export interface AliasTable {
  project_id: string;
  /** 'production', 'branch:<slug>' or 'env:<environment>' */
  name: string;
  deployment_id: string;
  updated_at: number;
}

export interface LogLineTable {
  deployment_id: string;
  n: number;
  at: number;
  text: string;
}

export interface WebhookDeliveryTable {
  delivery_id: string;
  project_id: string;
  deployment_id: string | null;
  /** the JSON answer given the first time, repeated on a replay */
  response: string;
  received_at: number;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'dead' | 'canceled';

export interface JobTable {
  id: Generated<number>;
  kind: string;
  deployment_id: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  run_at: number;
  /** `<worker-id>:<attempt>`: a fencing token, so a worker that lost its lease cannot complete */
  locked_by: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface MetaTable {
  key: string;
  value: number;
}

/** a preview alias taken away; builds of it with seq <= removed_seq never bring it back */
export interface RemovedAliasTable {
  project_id: string;
  name: string;
  removed_seq: number;
  removed_at: number;
}

export interface Database {
  projects: ProjectTable;
  env_vars: EnvVarTable;
  environments: EnvironmentTable;
  deployments: DeploymentTable;
  aliases: AliasTable;
  log_lines: LogLineTable;
  webhook_deliveries: WebhookDeliveryTable;
  jobs: JobTable;
  meta: MetaTable;
  domains: DomainTable;
  certificates: CertificateTable;
  acme_accounts: AcmeAccountTable;
  acme_challenges: AcmeChallengeTable;
  acme_events: AcmeEventTable;
  certificate_attempts: CertificateAttemptTable;
  users: UserTable;
  teams: TeamTable;
  memberships: MembershipTable;
  sessions: SessionTable;
  tokens: TokenTable;
  invitations: InvitationTable;
  audit_events: AuditEventTable;
  build_cache_entries: BuildCacheEntryTable;
  login_attempts: LoginAttemptTable;
  removed_aliases: RemovedAliasTable;
  git_host_reports: GitHostReportTable;
  git_host_comments: GitHostCommentTable;
  team_git_hosts: TeamGitHostTable;
  team_aws_access: TeamAwsAccessTable;
  deploy_targets: DeployTargetTable;
  aws_deployments: AwsDeploymentTable;
  aws_certificates: AwsCertificateTable;
  aws_domains: AwsDomainTable;
  idempotency_keys: IdempotencyKeyTable;
  notification_endpoints: NotificationEndpointTable;
  notification_events: NotificationEventTable;
  notification_deliveries: NotificationDeliveryTable;
  notification_attempts: NotificationAttemptTable;
  project_mail_addresses: ProjectMailAddressTable;
  inbound_mail: InboundMailTable;
  project_retention: ProjectRetentionTable;
  gc_state: GcStateTable;
  edges: EdgeTable;
  warm_requests: WarmRequestTable;
  warm_acks: WarmAckTable;
  access_logs: AccessLogTable;
  server_logs: ServerLogTable;
  log_drains: LogDrainTable;
}

/** A claimed Idempotency-Key (migration 0016): the request's hash, and its answer once there is one. */
export interface IdempotencyKeyTable {
  /** who sent it: "u:<user id>", "t:<deploy token id>" or "admin" */
  caller: string;
  /** method and path, e.g. "POST /api/v1/projects/blog/deployments" */
  route: string;
  key: string;
  request_hash: string;
  status: number | null;
  response: string | null;
  created_at: number;
}

export type Project = Selectable<ProjectTable>;
export type Deployment = Selectable<DeploymentTable>;
export type NewDeployment = Insertable<DeploymentTable>;
export type Job = Selectable<JobTable>;
export type EnvVar = Selectable<EnvVarTable>;
export type Environment = Selectable<EnvironmentTable>;
export type Domain = Selectable<DomainTable>;
export type Certificate = Selectable<CertificateTable>;
export type User = Selectable<UserTable>;
export type Team = Selectable<TeamTable>;
export type Membership = Selectable<MembershipTable>;
export type Session = Selectable<SessionTable>;
export type Token = Selectable<TokenTable>;
export type Invitation = Selectable<InvitationTable>;
export type AuditEvent = Selectable<AuditEventTable>;

/** A running edge process (migration 0017); a stale heartbeat means it is gone. */
export interface EdgeTable {
  id: string;
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
  /** the alias generation whose routes it serves */
  generation: number;
}

/** A production-bound deployment the live edges start the server of before the alias moves. */
export interface WarmRequestTable {
  deployment_id: string;
  manifest_hash: string;
  requested_at: number;
}

export interface WarmAckTable {
  deployment_id: string;
  edge_id: string;
  acked_at: number;
  /** null: warmed; else why not */
  error: string | null;
}
