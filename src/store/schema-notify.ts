/** Tables of notifications and deploy commands by email (issue 14, migration 0019; see src/notify/ and src/mail/). */

export type EndpointKind = 'webhook' | 'slack' | 'email';

export interface NotificationEndpointTable {
  id: string;
  team_id: string;
  /** null: every project of the team */
  project_id: string | null;
  kind: EndpointKind;
  /** webhook and slack: SecretBox-encrypted URL */
  url_enc: string | null;
  url_shown: string | null;
  /** webhook: SecretBox-encrypted signing secret */
  secret_enc: string | null;
  /** email: the subscribed person */
  user_id: string | null;
  /** comma-separated event types */
  events: string;
  created_by: string | null;
  created_at: number;
}

/** The outbox: one row per announced change, written with the change. */
export interface NotificationEventTable {
  id: string;
  type: string;
  team_id: string | null;
  project_id: string;
  deployment_id: string | null;
  /** JSON facts of the event */
  data: string;
  fanned_out: number;
  created_at: number;
}

export type DeliveryState = 'pending' | 'retrying' | 'delivered' | 'failed';

export interface NotificationDeliveryTable {
  id: string;
  event_id: string;
  endpoint_id: string;
  state: DeliveryState;
  attempts: number;
  next_at: number;
  locked_until: number | null;
  locked_by: string | null;
  last_status: number | null;
  last_error: string | null;
  resend_of: string | null;
  created_at: number;
  updated_at: number;
}

export interface NotificationAttemptTable {
  delivery_id: string;
  attempt: number;
  at: number;
  status: number | null;
  ok: number;
  duration_ms: number;
  response: string | null;
  error: string | null;
}

export interface ProjectMailAddressTable {
  project_id: string;
  /** sha256 hex of the address's secret part */
  token_hash: string;
  created_at: number;
}

export interface InboundMailTable {
  id: string;
  project_id: string;
  sender: string;
  user_id: string | null;
  spf: string | null;
  dkim: string | null;
  command: string | null;
  outcome: string;
  deployment_id: string | null;
  received_at: number;
}
