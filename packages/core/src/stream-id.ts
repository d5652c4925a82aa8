/** What a stream id may be: 1–128 letters, digits, '.', '_' or '-', not starting with a punctuation mark. */
export const STREAM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isStreamId(id: unknown): boolean {
  return typeof id === 'string' && STREAM_ID_PATTERN.test(id);
}
