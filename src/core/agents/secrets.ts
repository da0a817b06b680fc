/**
 * Keys never reach logs, metrics or errors. Agents echo what they were given (an error naming the
 * rejected key, a stack trace with the environment): every text that comes from an agent passes
 * through a redactor built from the variables the agent was started with.
 */
const SECRET_NAME = /key|token|secret|passw(or)?d|credential/i;
/** A plain word ("required", "enabled") is a setting, not a key; blanking it would garble messages. */
const PLAIN_WORD = /^[a-z]+$/;
/** Shorter values are too common as plain words to blank out safely (and too short to be keys). */
const MIN_SECRET_LENGTH = 8;

export type Redactor = (text: string) => string;

export function secretRedactor(...environments: Array<Record<string, string | undefined>>): Redactor {
  const secrets = new Set<string>();
  for (const environment of environments) {
    for (const [name, value] of Object.entries(environment)) {
      if (value !== undefined && value.length >= MIN_SECRET_LENGTH && SECRET_NAME.test(name) && !PLAIN_WORD.test(value)) secrets.add(value);
    }
  }
  if (secrets.size === 0) return (text) => text;
  // Longest first, so a key that contains another is blanked whole.
  const ordered = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join('***');
    return out;
  };
}
