import { parseArgs } from 'node:util';
import { formatClock, LvuError, sseEvents } from '@lvu/core';
import { apiFetch } from './api-client.js';

export const QUERY_USAGE = `lvu query URL STREAM TEXT [--json] [--since-ms MS] [--until-ms MS] [--token T]
lvu query URL --streams A,B,… TEXT [--json] [--since-ms MS] [--until-ms MS] [--token T]
        ask a running \`lvu serve\` (URL e.g. http://127.0.0.1:8080) about STREAM, or one question over several
        streams under one budget (their frames interleaved by wall-clock time; --since-ms/--until-ms are then
        wall-clock ms since the epoch); the answer streams to stdout, then the evidence; --json prints the result
        object (token LVU_TOKEN by default)`;

export async function queryCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      'since-ms': { type: 'string' },
      'until-ms': { type: 'string' },
      token: { type: 'string' },
      streams: { type: 'string' },
    },
  });
  const streams = values.streams?.split(',').filter(Boolean) ?? null;
  if (positionals.length !== (streams ? 2 : 3) || (streams && streams.length === 0))
    throw new LvuError('INVALID_ARGUMENT', `usage: ${QUERY_USAGE}`, { field: 'args' });
  const url = positionals[0]!;
  const question = positionals.at(-1)!;
  const token = values.token ?? process.env.LVU_TOKEN;
  const body: Record<string, unknown> = { question, ...(streams ? { streams } : {}) };
  const path = streams ? '/v1/query' : `/v1/streams/${encodeURIComponent(positionals[1]!)}/query`;
  for (const k of ['since-ms', 'until-ms'] as const) {
    if (values[k] !== undefined) body[k === 'since-ms' ? 'sinceMs' : 'untilMs'] = Number(values[k]);
  }
  const r = await apiFetch(
    url,
    path,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
    },
    token,
  );
  let result: Record<string, unknown> | null = null;
  let answered = false;
  for await (const { event, data } of sseEvents(r.body!)) {
    const d = JSON.parse(data);
    if (event === 'token' && !values.json) {
      if (!answered) process.stdout.write('answer: ');
      answered = true;
      process.stdout.write(d.text);
    } else if (event === 'result') result = d;
    else if (event === 'error') throw new LvuError(d.error ?? 'INTERNAL', d.message, { field: d.field });
  }
  if (!result)
    throw new LvuError('INTERNAL', 'the server closed the stream without a result', { field: 'URL' });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const ev = result.evidence as {
    highRes: { ptsMs: number; streamId: string }[];
    topScored: { ptsMs: number; streamId: string }[];
  };
  const t = (f: { ptsMs: number; streamId: string }) =>
    streams ? `${f.streamId} ${formatClock(f.ptsMs)}` : formatClock(f.ptsMs);
  if (answered) process.stdout.write('\n');
  // an answer not streamed token by token (a worker answering from another worker's checkpoint) comes whole
  else if (typeof result.answer === 'string') process.stdout.write(`answer: ${result.answer}\n`);
  else process.stdout.write('answer: none (evidence only)\n');
  process.stdout.write(
    `high-resolution frames: ${ev.highRes.map(t).join(', ') || 'none'}\n` +
      `best-scoring frames: ${ev.topScored.map(t).join(', ')}\n` +
      `tokens: ${result.totalTokens} of ${result.budgetTokens}\n`,
  );
  return 0;
}
