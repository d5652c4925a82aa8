/**
 * The one error type lvu raises for bad input, unavailable services and broken models.
 * `code` is from a closed set; each code has a default `retriable` and a hint saying what to do.
 * Programming errors (TypeError, RangeError from our own bugs) are never wrapped in LvuError and never retried.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { retriable: false, hint: 'check the value named in `field`' },
  INVALID_CONFIG: { retriable: false, hint: 'fix the configuration field named in `field`' },
  SHAPE_MISMATCH: { retriable: false, hint: 'the tensor named in `field` does not have the expected shape' },
  NON_FINITE_INPUT: {
    retriable: false,
    hint: 'the tensor named in `field` holds NaN or Infinity: check the model that produced it',
  },
  NOT_FOUND: { retriable: false, hint: 'check the path or identifier' },
  SOURCE_UNREACHABLE: { retriable: true, hint: 'the source could not be reached; lvu retries with backoff' },
  SOURCE_TIMEOUT: { retriable: true, hint: 'the source did not answer in time; lvu retries with backoff' },
  SOURCE_STALLED: { retriable: true, hint: 'the source stopped delivering frames; lvu reconnects' },
  AUTH_REQUIRED: { retriable: false, hint: 'the source needs credentials: put them in the URL or options' },
  DECODE_FAILED: { retriable: false, hint: 'the media could not be decoded: check the file' },
  TRUNCATED_MEDIA: {
    retriable: false,
    hint: 'the file ends before its stated duration (cut while copying, or still being written): what was before the cut was used; copy it again or wait until it is complete',
  },
  UNSUPPORTED_MEDIA: {
    retriable: false,
    hint: 'this container or codec is not supported by the FFmpeg build',
  },
  FETCH_FAILED: {
    retriable: true,
    hint: 'a package registry or its client (pip, Maven) failed: check the network and the tool, then run the command again (it resumes)',
  },
  MODEL_INVALID: { retriable: false, hint: 'the model file or manifest is wrong: re-export it' },
  INFERENCE_FAILED: { retriable: false, hint: 'the model failed on this input' },
  CONTEXT_OVERFLOW: { retriable: false, hint: 'the sequence is longer than the model context' },
  CONTEXT_EMPTY: {
    retriable: true,
    hint: 'the stream has kept no frame yet: ask again once a window has closed',
  },
  STREAM_NOT_FOUND: { retriable: false, hint: 'list streams to see the valid ids' },
  STREAM_EXISTS: { retriable: false, hint: 'remove the stream first or use another id' },
  TRANSPORT_UNAVAILABLE: { retriable: true, hint: 'the message broker is unavailable; lvu retries' },
  MALFORMED_MESSAGE: { retriable: false, hint: 'the message was dead-lettered; check its producer' },
  CANCELLED: { retriable: false, hint: 'the operation was cancelled' },
  FORBIDDEN: {
    retriable: false,
    hint: 'the server refuses this: its operator can allow it in the configuration named in the hint',
  },
  OVERLOADED: {
    retriable: true,
    hint: 'too many questions or searches are running: wait the Retry-After seconds and ask again',
  },
  STORAGE_FAILED: {
    retriable: true,
    hint: 'a write to disk failed (full, read-only or removed): free space or fix the directory; lvu keeps the last good file and retries',
  },
  INTERNAL: { retriable: false, hint: 'this is a bug in lvu: please report it with the details' },
} as const satisfies Record<string, { retriable: boolean; hint: string }>;

export type LvuErrorCode = keyof typeof ERROR_CODES;

export interface LvuErrorOptions {
  /** The offending field or tensor, e.g. `dino[3]` or `budgetTokens`. */
  field?: string;
  /** Overrides the code's default. */
  retriable?: boolean;
  /** What the user should do; defaults to the code's hint. */
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class LvuError extends Error {
  override readonly name = 'LvuError';
  readonly code: LvuErrorCode;
  readonly field: string | undefined;
  readonly retriable: boolean;
  readonly hint: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: LvuErrorCode, message: string, options: LvuErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
    this.hint = options.hint ?? ERROR_CODES[code].hint;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      error: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      retriable: this.retriable,
      hint: this.hint,
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }

  static is(err: unknown, code?: LvuErrorCode): err is LvuError {
    return err instanceof LvuError && (code === undefined || err.code === code);
  }
}
