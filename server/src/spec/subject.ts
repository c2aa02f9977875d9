import { subjectMatches } from "@chime/sdk";
/** NATS subject rules (DESIGN, "Safety"). Problems come back as rule phrases, not thrown. */

export const MAX_SUBJECT_BYTES = 256;

export const SUBJECT_RULES = {
  empty: "must not be empty",
  tooLong: `must be at most ${MAX_SUBJECT_BYTES} bytes`,
  whiteSpace: "must not contain white space or control characters",
  wildcard: "must not contain wildcards (* or >)",
  emptyToken: "must not have empty tokens (leading, trailing or double dots)",
  system: "must not start with $ (system subjects such as $JS, $KV, $SYS and $O)",
  inbox: "must not be an _INBOX subject",
  reserved: "is reserved for Chime's internal use",
  partialWildcard: "may use * and > only as whole tokens",
  tailWildcard: "may use > only as the last token",
} as const;

// Unicode white space, and the C0 and C1 controls with DEL (Unicode category Cc).
const WHITE_SPACE_OR_CONTROL = /[\s\p{Cc}]/u;

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate half counts 2, so a pair comes to the 4 bytes UTF-8 needs for it.
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : unit >= 0xd800 && unit <= 0xdfff ? 2 : 3;
  }
  return bytes;
}

// The checks shared by subjects and patterns, cheapest and most basic first.
function basicProblem(text: string): string | null {
  if (typeof text !== "string" || text.length === 0) {
    return SUBJECT_RULES.empty;
  }
  // Every UTF-16 unit is at least one UTF-8 byte: refuse huge input before scanning it.
  if (text.length > MAX_SUBJECT_BYTES || utf8Length(text) > MAX_SUBJECT_BYTES) {
    return SUBJECT_RULES.tooLong;
  }
  if (WHITE_SPACE_OR_CONTROL.test(text)) {
    return SUBJECT_RULES.whiteSpace;
  }
  return null;
}

function hasEmptyToken(text: string): boolean {
  return text.startsWith(".") || text.endsWith(".") || text.includes("..");
}

// One definition of NATS subject matching, shared with the SDK's consumer.
export { subjectMatches };

/** What is wrong with a configured subject pattern (subject space, reserved), or null. */
export function subjectPatternProblem(pattern: string): string | null {
  const basic = basicProblem(pattern);
  if (basic !== null) {
    return basic;
  }
  if (hasEmptyToken(pattern)) {
    return SUBJECT_RULES.emptyToken;
  }
  const tokens = pattern.split(".");
  for (const [index, token] of tokens.entries()) {
    if (token !== "*" && token !== ">" && (token.includes("*") || token.includes(">"))) {
      return SUBJECT_RULES.partialWildcard;
    }
    if (token === ">" && index !== tokens.length - 1) {
      return SUBJECT_RULES.tailWildcard;
    }
  }
  return null;
}

function describeSpace(subjectSpace: readonly string[]): string {
  const shown = subjectSpace.slice(0, 5).join(", ");
  return subjectSpace.length > 5 ? `${shown}, …` : shown;
}

/**
 * What is wrong with `subject` as the target of a schedule, or null if it may be used. A
 * scheduled publish runs with Chime's credentials, which can do more than any client
 * should: `$JS.API.STREAM.DELETE.X` would delete a stream.
 */
export function subjectProblem(
  subject: string,
  subjectSpace: readonly string[],
  reserved: readonly string[],
): string | null {
  const basic = basicProblem(subject);
  if (basic !== null) {
    return basic;
  }
  if (subject.includes("*") || subject.includes(">")) {
    return SUBJECT_RULES.wildcard;
  }
  if (hasEmptyToken(subject)) {
    return SUBJECT_RULES.emptyToken;
  }
  if (subject.startsWith("$")) {
    return SUBJECT_RULES.system;
  }
  if (subject === "_INBOX" || subject.startsWith("_INBOX.")) {
    return SUBJECT_RULES.inbox;
  }
  if (reserved.some((pattern) => subjectMatches(pattern, subject))) {
    return SUBJECT_RULES.reserved;
  }
  if (!subjectSpace.some((pattern) => subjectMatches(pattern, subject))) {
    return `must lie inside the subject space (${describeSpace(subjectSpace)})`;
  }
  return null;
}
