export { createEndpoint, emailOf, findDelivery, findEndpoint, listDeliveries, listEndpoints, removeEndpoint, serializeDelivery, serializeEndpoint, type Scope } from './endpoints.js';
export { EMAIL_EVENT_TYPES, EVENT_TYPES, recordDeploymentEvent, recordDomainEvent, type EventType } from './events.js';
export { DEFAULT_BACKOFF, startNotificationDispatcher, type Backoff, type Dispatcher } from './dispatcher.js';
export { resendDelivery } from './outbox.js';
export { SIGNATURE_TOLERANCE_SECONDS, signPayload, verifySignature } from './sign.js';
