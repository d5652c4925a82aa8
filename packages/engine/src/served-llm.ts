import { LvuError, type LvuErrorCode, sseEvents } from '@lvu/core';
import type { AnswerOptions, BackendUsage } from './llm-backend.js';

/** What a served-model backend needs to reach its server. */
export interface ServerTarget {
  /** Base URL, e.g. http://127.0.0.1:8000/v1 */
  url: string;
  apiKey?: string | undefined;
  timeoutMs: number;
  /** The config key of the backend's options, named in errors (`openai`, `prompt-embeds`). */
  field: string;
}

/** One streamed chunk of an OpenAI-compatible response: chat (`delta.content`) or completions (`text`). */
interface Chunk {
  choices?: {
    delta?: { content?: string | null };
    /** a whole answer, from a server that does not stream */
    message?: { content?: string | null };
    text?: string;
    finish_reason?: string | null;
  }[];
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
  } | null;
  error?: { message?: string; code?: number } | string;
}

const OVERFLOW = /context length|maximum context|too long|exceeds|n_ctx|context window|prompt is longer/i;

/**
 * The coded error for a non-2xx answer of an OpenAI-compatible server (vLLM, NIM, Dynamo, llama.cpp, Ollama),
 * saying what to do: a prompt over the server's context is CONTEXT_OVERFLOW, an unknown model NOT_FOUND, a
 * refused key FORBIDDEN, a busy server OVERLOADED, a failing one TRANSPORT_UNAVAILABLE (retriable).
 */
export function serverError(status: number, body: string, t: ServerTarget, endpoint: string): LvuError {
  const text = body.slice(0, 500);
  const at = `LLM server ${endpoint} answered ${status}: ${text}`;
  const is = (code: LvuErrorCode, hint: string, retriable?: boolean) =>
    new LvuError(code, at, {
      field: t.field,
      hint,
      details: { status },
      ...(retriable === undefined ? {} : { retriable }),
    });
  if ((status === 400 || status === 413 || status === 422) && OVERFLOW.test(text)) {
    return is(
      'CONTEXT_OVERFLOW',
      `the prompt is longer than the server's context: lower longvu.contextTokens (--budget) to the server's ` +
        `limit, or start the server with a longer one (vLLM --max-model-len, llama.cpp --n_ctx)`,
    );
  }
  if (status === 400 && /prompt[_ -]?embeds/i.test(text)) {
    return is(
      'INVALID_CONFIG',
      'the server does not take prompt embeddings: start vLLM (or Dynamo) with --enable-prompt-embeds',
    );
  }
  if (status === 404) {
    return is(
      'NOT_FOUND',
      `the server knows no such model or path: ${t.field}.model must be a name GET ${t.url}/models lists, ` +
        `and ${t.field}.url must end in /v1`,
    );
  }
  if (status === 401 || status === 403) {
    return is('FORBIDDEN', `the server refused the key: set ${t.field}.apiKey (sent as a bearer token)`);
  }
  if (status === 429) return is('OVERLOADED', 'the server is busy: ask again in a moment', true);
  if (status >= 500) {
    return is('TRANSPORT_UNAVAILABLE', 'the LLM server failed: check its log; asking again may work', true);
  }
  return is('INFERENCE_FAILED', 'the server refused the request: its message says why');
}

/**
 * POSTs `body` to `url + endpoint` with `stream: true` and yields the text pieces of the answer as they come,
 * whether the server streams Server-Sent Events or answers with one JSON object. Reports to `a.onUsage` the request
 * size, the time to the first piece and the server's own token counts. A server that cannot be reached, times out,
 * answers an error or breaks off mid-answer gives a coded LvuError (what was said before the break was already
 * handed to `onText`).
 */
export async function* streamCompletion(
  t: ServerTarget,
  endpoint: '/chat/completions' | '/completions',
  body: string,
  a: AnswerOptions,
  usage: BackendUsage = {},
): AsyncGenerator<string> {
  const url = `${t.url.replace(/\/$/, '')}${endpoint}`;
  const timeout = AbortSignal.timeout(t.timeoutMs);
  const signal = a.signal ? AbortSignal.any([a.signal, timeout]) : timeout;
  const report = () => a.onUsage?.(usage);
  usage.requestBytes = Buffer.byteLength(body);
  const t0 = performance.now();
  const failed = (err: unknown, after: string): LvuError => {
    if (a.signal?.aborted) return new LvuError('CANCELLED', 'the question was cancelled', { cause: err });
    if (timeout.aborted) {
      return new LvuError(
        'TRANSPORT_UNAVAILABLE',
        `LLM server ${url}: no answer within ${t.timeoutMs} ms${after}`,
        {
          field: `${t.field}.timeoutMs`,
          hint: `the server is stopped or overloaded: check it, or raise ${t.field}.timeoutMs for long answers`,
          cause: err,
        },
      );
    }
    if (err instanceof LvuError) return err;
    return new LvuError('TRANSPORT_UNAVAILABLE', `LLM server ${url}: ${(err as Error).message}${after}`, {
      field: `${t.field}.url`,
      hint: `start the server or fix ${t.field}.url; lvu answers the next question once it is back`,
      cause: err,
    });
  };
  let r: Response;
  try {
    r = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...(t.apiKey ? { authorization: `Bearer ${t.apiKey}` } : {}),
      },
      body,
      signal,
    });
  } catch (err) {
    throw failed(err, '');
  }
  if (!r.ok) throw serverError(r.status, await r.text().catch(() => ''), t, url);
  let said = 0;
  const take = (c: Chunk): string => {
    if (c.error) {
      const m = typeof c.error === 'string' ? c.error : (c.error.message ?? JSON.stringify(c.error));
      throw serverError(typeof c.error === 'object' && c.error.code ? c.error.code : 500, m, t, url);
    }
    if (c.usage) {
      usage.promptTokens = c.usage.prompt_tokens;
      usage.completionTokens = c.usage.completion_tokens;
      const cached = c.usage.prompt_tokens_details?.cached_tokens;
      if (cached !== undefined) usage.cachedTokens = cached;
    }
    const ch = c.choices?.[0];
    const piece = ch?.delta?.content ?? ch?.message?.content ?? ch?.text ?? '';
    if (piece && usage.firstTokenMs === undefined) usage.firstTokenMs = performance.now() - t0;
    said += piece.length;
    return piece;
  };
  try {
    if (!(r.headers.get('content-type') ?? '').includes('text/event-stream')) {
      const piece = take((await r.json()) as Chunk);
      if (piece) yield piece;
      report();
      return;
    }
    let done = false;
    for await (const { data } of sseEvents(r.body!)) {
      if (data === '[DONE]') {
        done = true;
        break;
      }
      let c: Chunk;
      try {
        c = JSON.parse(data) as Chunk;
      } catch {
        throw new LvuError(
          'MALFORMED_MESSAGE',
          `LLM server sent a chunk that is not JSON: ${data.slice(0, 100)}`,
          {
            field: t.field,
            hint: 'the URL must be an OpenAI-compatible server (…/v1)',
          },
        );
      }
      const piece = take(c);
      if (piece) yield piece;
    }
    if (!done && said === 0) {
      throw new LvuError(
        'TRANSPORT_UNAVAILABLE',
        `LLM server ${url} closed the stream with no answer and no error`,
        {
          field: t.field,
          hint:
            "check the server's log: llama-cpp-python's server does this when the prompt exceeds its n_ctx — lower " +
            'longvu.contextTokens (--budget) below it, or start the server with a larger --n_ctx',
        },
      );
    }
    if (!done) throw new Error('the stream ended without [DONE]');
  } catch (err) {
    throw failed(err, ` (the answer broke off after ${said} characters)`);
  } finally {
    report();
  }
}
