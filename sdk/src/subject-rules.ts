/**
 * The rules a subject the SDK publishes to must follow: the same as Chime's for a schedule's
 * subject (DESIGN, "Safety"), less the subject space, which only the server knows. A publish
 * with the consumer's NATS credentials to `$JS.API.…` or another service's inbox could do
 * damage far from the task that failed.
 */

const MAX_SUBJECT_BYTES = 256;
// Unicode white space, and the C0 and C1 controls with DEL.
const WHITE_SPACE_OR_CONTROL = /[\s\p{Cc}]/u;
const RESERVED_PREFIX = "chime.internal.";

/** What is wrong with `subject` as a subject to publish to, or null if it may be used. */
export function publishSubjectProblem(subject: unknown): string | null {
  if (typeof subject !== "string" || subject === "") return "must be a non-empty string";
  if (
    subject.length > MAX_SUBJECT_BYTES ||
    new TextEncoder().encode(subject).length > MAX_SUBJECT_BYTES
  ) {
    return `must be at most ${MAX_SUBJECT_BYTES} bytes`;
  }
  if (WHITE_SPACE_OR_CONTROL.test(subject)) {
    return "must not contain white space or control characters";
  }
  if (subject.includes("*") || subject.includes(">")) return "must not contain wildcards (* or >)";
  if (subject.startsWith(".") || subject.endsWith(".") || subject.includes("..")) {
    return "must not have empty tokens (leading, trailing or double dots)";
  }
  if (subject.startsWith("$")) {
    return "must not start with $ (system subjects such as $JS, $KV, $SYS and $O)";
  }
  if (subject === "_INBOX" || subject.startsWith("_INBOX.")) return "must not be an _INBOX subject";
  if (subject === "chime.internal" || subject.startsWith(RESERVED_PREFIX)) {
    return "is reserved for Chime's internal use";
  }
  return null;
}

/** Whether the subject pattern `pattern` (`*` one token, a final `>` one or more) matches `subject`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split(".");
  const have = subject.split(".");
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === ">") return i === want.length - 1 && have.length > i;
    if (i >= have.length || (token !== "*" && token !== have[i])) return false;
  }
  return want.length === have.length;
}
