import { accountCommands } from './accounts.js';
import { approveCommand, rejectCommand } from './approvals.js';
import { awsCommand, targetCommand } from './aws.js';
import type { Command, Handler, HandlerCommand } from './command.js';
import { cancelCommand, deployCommand, deploymentsCommand, inspectCommand, logsCommand, lsCommand, promoteCommand, rollbackCommand } from './deployments.js';
import { domainsCommand } from './domains.js';
import { envCommand } from './env.js';
import { notificationsCommand } from './notifications.js';
import { createCommand, linkCommand, projectsCommand } from './projects.js';
import { migrateDataCommand } from './migrate-data.js';
import { gcCommand, retentionCommand } from './retention.js';
import { upCommand } from './up.js';

/**
 * Every `slipway <command>`, in the order `slipway --help` lists them. A command is one row:
 * its help, flags and handler live in the Command (./command.ts), so adding one is one line
 * here, e.g. `whoami: whoamiCommand,` from ./accounts.ts (or a plain Handler, `...accountCommands`).
 */
export const commands: Record<string, Command | HandlerCommand | Handler> = {
  up: upCommand,
  projects: projectsCommand,
  link: linkCommand,
  deploy: deployCommand,
  ls: lsCommand,
  inspect: inspectCommand,
  logs: logsCommand,
  promote: promoteCommand,
  rollback: rollbackCommand,
  cancel: cancelCommand,
  approve: approveCommand,
  reject: rejectCommand,
  env: envCommand,
  domains: domainsCommand,
  notifications: notificationsCommand,
  retention: retentionCommand,
  gc: gcCommand,
  aws: awsCommand,
  target: targetCommand,
  // kept for scripts written before `projects create` and `ls`
  create: createCommand,
  deployments: deploymentsCommand,
  'migrate-data': migrateDataCommand,
  // people: users, login, logout, whoami, teams, members, tokens, audit (./accounts.ts)
  ...accountCommands,
};
