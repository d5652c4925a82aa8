import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatClock, LvuError } from '@lvu/core';
import { describeObjects, type ObjectEvidence } from '@lvu/engine';
import { apiFetch } from './api-client.js';
import { numberArg } from './number-arg.js';

export const SEARCH_USAGE = `lvu search URL STREAM[,STREAM…] (TEXT | --image FILE.jpg) [--since-ms MS] [--until-ms MS] [--limit N]
        [--json] [--token T]
        search a running \`lvu serve\`'s history (retained and spilled frames): by text, or by example image (a
        JPEG, ranked by feature similarity); prints the time ranges that score high, best first (several streams:
        --since-ms/--until-ms are wall-clock ms since the epoch); --json prints the result object`;

interface Range {
  streamId: string;
  fromMs: number;
  toMs: number;
  frames: number;
  score: number;
  best: { ptsMs: number; labels: string[] };
}

export async function searchCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      image: { type: 'string' },
      json: { type: 'boolean', default: false },
      'since-ms': { type: 'string' },
      'until-ms': { type: 'string' },
      limit: { type: 'string' },
      token: { type: 'string' },
    },
  });
  if (positionals.length !== (values.image ? 2 : 3))
    throw new LvuError('INVALID_ARGUMENT', `usage: ${SEARCH_USAGE}`, { field: 'args' });
  const [url, list, text] = positionals as [string, string, string | undefined];
  const streams = list.split(',').filter(Boolean);
  const token = values.token ?? process.env.LVU_TOKEN;
  const range = {
    sinceMs: numberArg(values['since-ms'], 'since-ms', Number.NEGATIVE_INFINITY),
    untilMs: numberArg(values['until-ms'], 'until-ms', Number.NEGATIVE_INFINITY),
    limit: numberArg(values.limit, 'limit', 1),
  };
  let r: Response;
  if (values.image) {
    let image: Buffer;
    try {
      image = readFileSync(values.image);
    } catch (err) {
      throw new LvuError('NOT_FOUND', `cannot read ${values.image}: ${(err as Error).message}`, {
        field: 'image',
      });
    }
    const body = { streams, image: image.toString('base64'), ...range };
    r = await apiFetch(
      url,
      '/v1/search',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      token,
    );
  } else {
    const q = new URLSearchParams({ q: text! });
    for (const [k, v] of Object.entries(range)) if (v !== undefined) q.set(k, String(v));
    const path =
      streams.length === 1
        ? `/v1/streams/${encodeURIComponent(streams[0]!)}/search?${q}`
        : `/v1/search?streams=${encodeURIComponent(streams.join(','))}&${q}`;
    r = await apiFetch(url, path, { method: 'GET' }, token);
  }
  const result = (await r.json()) as {
    ranges: Range[];
    scanned: { retained: number; spilled: number };
    objects?: ObjectEvidence[];
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  for (const x of result.ranges) {
    const labels = x.best.labels.length ? `  ${x.best.labels.slice(0, 3).join(', ')}` : '';
    process.stdout.write(
      `${streams.length > 1 ? `${x.streamId} ` : ''}${formatClock(x.fromMs)}–${formatClock(x.toMs)}  best ${formatClock(x.best.ptsMs)}  ` +
        `score ${x.score.toFixed(3)}  ${x.frames} frames${labels}\n`,
    );
  }
  if (result.objects?.length) {
    process.stdout.write(`counted by the detector: ${describeObjects(result.objects, streams.length > 1)}\n`);
  }
  process.stdout.write(
    `${result.ranges.length} ranges from ${result.scanned.retained} retained and ${result.scanned.spilled} spilled frames\n`,
  );
  return 0;
}
