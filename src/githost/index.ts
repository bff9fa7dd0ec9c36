/**
 * The git host conversation (issue 11): GitHub deployments, deployment and commit statuses and
 * one pull request comment; GitLab commit statuses and one merge request note.
 */
export { startGitHostReporter, type GitHostReporter, type ReporterOptions } from './reporter.js';
export { gitHostStatus } from './reports.js';
export { checkGitHostConfig } from './credentials.js';
export { appJwt } from './github-app.js';
export { deleteTeamGitHost, maskTeamGitHost, parseTeamGitHost, readTeamGitHosts, saveTeamGitHost, type Provider } from './team-settings.js';
export { commentMarker } from './comment.js';
