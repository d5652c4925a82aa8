import type { QueryResult, QuestionInput } from '@lvu/engine';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { asLvuError, errorBody } from './api-errors.js';

/**
 * Answers as the API sends them: JSON, or server-sent events (`token` pieces, then `result` or `error`) for a client
 * that accepts `text/event-stream`; the standing answers' stream uses the same framing.
 */

/** A question's text and range as the engine takes them (null: not given). */
export function range(b: {
  question: string;
  sinceMs?: number | null;
  untilMs?: number | null;
}): QuestionInput {
  return { question: b.question, sinceMs: b.sinceMs ?? undefined, untilMs: b.untilMs ?? undefined };
}

export function sse(req: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  reply.raw.write(': lvu\n\n');
  const ping = setInterval(() => reply.raw.write(': ping\n\n'), 15_000);
  ping.unref();
  const stop = () => clearInterval(ping);
  req.raw.on('close', stop);
  reply.raw.on('close', stop);
  reply.raw.on('finish', stop);
}

/**
 * A question (one stream or several): `{question, sinceMs?, untilMs?}` answered as JSON, or with
 * `Accept: text/event-stream` as server-sent events (`token` pieces, then `result` or `error`).
 */
export async function query(
  req: FastifyRequest,
  reply: FastifyReply,
  input: QuestionInput,
  ask: (input: QuestionInput) => Promise<QueryResult>,
): Promise<QueryResult | undefined> {
  const streaming = (req.headers.accept ?? '').includes('text/event-stream');
  if (!streaming) return ask(input);
  const abort = new AbortController();
  req.raw.on('close', () => abort.abort());
  let started = false;
  const start = () => {
    if (!started) sse(req, reply);
    started = true;
  };
  try {
    const r = await ask({
      ...input,
      signal: abort.signal,
      onText: (text) => {
        start();
        reply.raw.write(`event: token\ndata: ${JSON.stringify({ text })}\n\n`);
      },
    });
    start();
    reply.raw.write(`event: result\ndata: ${JSON.stringify(r)}\n\n`);
  } catch (err) {
    if (!started) throw err;
    const e = asLvuError(err);
    reply.raw.write(`event: error\ndata: ${JSON.stringify(errorBody(e))}\n\n`);
  }
  reply.raw.end();
  return undefined;
}
