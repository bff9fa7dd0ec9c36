/** A rule that cannot be deployed: the message names the file, the line or rule index, and what is wrong. */
export class RuleError extends Error {
  override name = 'RuleError';
}
