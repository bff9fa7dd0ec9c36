/** Tables of the git host conversation (issue 11). */
/** What the git host was last told about a deployment (src/githost/). */
export interface GitHostReportTable {
  deployment_id: string;
  provider: 'github' | 'gitlab';
  /** "owner/name" (GitLab: the project path) */
  repo: string;
  /** the steps already sent, comma-separated in order */
  sent: string;
  /** the GitHub Deployment's id */
  remote_id: number | null;
  state: 'pending' | 'sent' | 'retrying' | 'failed';
  attempts: number;
  last_error: string | null;
  first_failed_at: number | null;
  next_at: number | null;
  locked_until: number | null;
  updated_at: number;
}

/** The one comment (GitLab: note) Slipway keeps on a pull/merge request per project. */
export interface GitHostCommentTable {
  project_id: string;
  repo: string;
  pr_number: number;
  comment_id: number;
  updated_at: number;
}

/** A team's own git host credentials; the secret part is SecretBox-encrypted JSON. */
export interface TeamGitHostTable {
  team_id: string;
  provider: 'github' | 'gitlab';
  secret: string;
  api_url: string | null;
  updated_at: number;
}
