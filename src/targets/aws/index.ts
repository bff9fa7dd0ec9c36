/** The AWS target: S3 + Lambda versions and aliases + CloudFront (issue 13; see docs/aws.md). */
export { type AwsAccess, type AwsAccessInput, deleteAwsAccess, maskAwsAccess, parseAwsAccess, readAwsAccess, saveAwsAccess } from './access.js';
export { type AccessCheck, checkAwsAccess } from './check.js';
export { type AwsClients, type AwsEndpoints, awsClients } from './clients.js';
export { type AwsBuildOutput, type AwsDeployInput, deployToAws, LIVE_ALIAS } from './deploy.js';
export { type AwsRecord, readAwsRecord } from './record.js';
export { switchAwsLive } from './switch.js';
export { listTargetSettings, parseTargetSetting, resolveTarget, saveTargetSetting, type AwsResources, type TargetKind, type TargetSetting } from './target.js';
export { REQUIRED_ACTIONS } from './policy.js';
export { awsAliasFor, awsOutputOf, goLiveOnAws, switchOnAws } from './live.js';
export { addDistributionDomain, type AwsCertificate, deleteCertificate, describeCertificate, requestCertificate, setDistributionDomains } from './domains.js';
export { addAwsDomain, awsDomainViews, awsSlotFor, awsSlotOfDomain, removeAwsDomain, showAwsDomain, verifyAwsDomain } from './aws-domains.js';
export { checkAwsDomains, startAwsDomainChecks } from './aws-domain-checks.js';
export { type AwsDomainDeps, type AwsSlot, syncAwsSlot } from './aws-domain-sync.js';
export { awsBuildResult, buildForTarget, dependsOnNext, type TargetBuildResult } from './build.js';
export { type AwsPruneDeps, type AwsPruneReport, pruneAws } from './prune.js';
