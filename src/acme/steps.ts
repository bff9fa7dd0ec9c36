import { clearProblem, failureFrom } from './problem.js';

/** Run one ACME step; a failure becomes an AcmeFailure naming the step and the CA's problem. */
export async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  clearProblem();
  try {
    return await fn();
  } catch (error) {
    throw failureFrom(what, error);
  }
}
