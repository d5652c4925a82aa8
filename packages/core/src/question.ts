import { z } from 'zod';
import { issueField } from './define-schema.js';
import { LvuError } from './lvu-error.js';
import { STREAM_ID_PATTERN } from './stream-id.js';

/**
 * The rules for what people send: a question (or a search's text), a time range, a stream id. The engine checks
 * them with these schemas and the HTTP API validates its requests and publishes its OpenAPI document from the same
 * ones, so the rule a route documents is the rule the engine applies.
 */

// control characters (but tab, newline and carriage return) and U+FFFD, what undecodable bytes become
const NOT_TEXT = '\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffd';
/**
 * Text with something besides white space in it, and none of NOT_TEXT, as an ECMA-262 pattern a JSON Schema can
 * carry. Lone surrogates are refused too, by a refinement: a pattern cannot name them (UTF-8 cannot carry them).
 */
export const QUESTION_PATTERN = `^[^${NOT_TEXT}]*[^\\s\\ufeff${NOT_TEXT}][^${NOT_TEXT}]*$`;
const QUESTION_RE = new RegExp(QUESTION_PATTERN);

/** The default limit on a question's length (engine.query.maxQuestionChars). */
export const DEFAULT_MAX_QUESTION_CHARS = 4000;

/** A question, or a search's text: a string of 1..maxChars characters that is text and not only white space. */
export function questionSchema(maxChars = DEFAULT_MAX_QUESTION_CHARS, what = 'question') {
  return z
    .string({ error: `${what} must be a string` })
    .min(1, { error: `${what} is empty: ask something about the video` })
    .max(maxChars, {
      error: (iss) =>
        `${what} has ${String(iss.input).length} characters; the limit is ${maxChars} (query.maxQuestionChars)`,
    })
    .regex(QUESTION_RE, {
      error: (iss) =>
        String(iss.input).trim() === ''
          ? `${what} is empty: ask something about the video`
          : `${what} is not text (control characters or invalid UTF-8)`,
    })
    .refine((s) => !/\p{Cs}/u.test(s), {
      error: `${what} is not text (control characters or invalid UTF-8)`,
    });
}

/** sinceMs/untilMs: each, when given, a finite number of milliseconds (null: not given). */
export function timeRangeShape(clock: string) {
  // zod's number is finite: NaN and the infinities are refused
  const ms = (edge: string) =>
    z
      .number({ error: `${edge} must be a number of milliseconds` })
      .nullable()
      .optional();
  return {
    sinceMs: ms('sinceMs').describe(`${clock}, inclusive`),
    untilMs: ms('untilMs').describe(`${clock}, inclusive`),
  };
}

/** A stream id: 1–128 letters, digits, '.', '_' or '-', not starting with a punctuation mark. */
export const streamIdSchema = z
  .string()
  .regex(STREAM_ID_PATTERN, { error: "a stream id is 1–128 letters, digits, '.', '_' or '-'" })
  .describe('stream id');

/** `value` checked by `schema`, or an INVALID_ARGUMENT LvuError naming the field of the first issue. */
export function checked<S extends z.ZodType>(schema: S, value: unknown, field: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw invalidArgument(r.error.issues, field);
}

/** The first of zod's issues as an INVALID_ARGUMENT LvuError: its message, and its field (`base.path`). */
export function invalidArgument(
  issues: readonly z.core.$ZodIssue[],
  base = '',
  code: 'INVALID_ARGUMENT' | 'INVALID_CONFIG' = 'INVALID_ARGUMENT',
): LvuError {
  const issue = issues[0]!;
  const field = issueField(issue, base);
  return new LvuError(code, issue.message, {
    field,
    details: { issues: issues.map((i) => ({ field: i.path.join('.'), message: i.message })) },
  });
}
