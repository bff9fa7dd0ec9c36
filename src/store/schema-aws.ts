/** Tables of the AWS target (issue 13, src/targets/aws/). */

/** A team's AWS access; the secret part is SecretBox-encrypted JSON. */
export interface TeamAwsAccessTable {
  team_id: string;
  kind: 'keys' | 'role';
  region: string;
  role_arn: string | null;
  key_hint: string | null;
  secret: string;
  updated_at: number;
}

/** Where a project (environment '') or one environment goes live, and its AWS resources (JSON). */
export interface DeployTargetTable {
  project_id: string;
  environment: string;
  target: 'edge' | 'aws';
  resources: string;
  updated_at: number;
}

/** What a deployment did on AWS (JSON, see src/targets/aws/record.ts). */
export interface AwsDeploymentTable {
  deployment_id: string;
  record: string;
  updated_at: number;
}
