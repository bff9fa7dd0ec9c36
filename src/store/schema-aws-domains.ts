/** Custom domains on the AWS target (issue 13, src/targets/aws/aws-domains*.ts). */

/** An ACM certificate Slipway requested for a project's distribution. */
export interface AwsCertificateTable {
  arn: string;
  project_id: string;
  /** the deploy_targets row ('' the whole project) */
  target_env: string;
  /** JSON array of names, sorted */
  names: string;
  status: string;
  /** JSON [{name, type, value}] */
  records: string;
  reason: string | null;
  role: 'pending' | 'serving' | 'retired';
  created_at: number;
  updated_at: number;
}

/** A custom domain served by CloudFront instead of the edge. */
export interface AwsDomainTable {
  name: string;
  project_id: string;
  target_env: string;
  distribution_id: string | null;
  next_check_at: number;
  check_failures: number;
  created_at: number;
}
