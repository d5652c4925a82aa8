import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { LvuError } from '@lvu/core';
import type { QueryResult, RetentionInput } from '@lvu/engine';
import { truncatedError } from '@lvu/ffmpeg';
import { chooseModels } from './default-models.js';
import { numberArg } from './number-arg.js';
import { createEngine, defaultPlugins } from './plugins.js';
import { bar, clock, ProgressLine } from './progress.js';
import { chooseSample } from './sample-video.js';

const PLUGINS = defaultPlugins();

export const REPLAY_USAGE = `lvu replay [FILE] [--query TEXT] [--json] [--models DIR] [--backend auto|${PLUGINS.backends.names().join('|')}]
        [--llm-url http://127.0.0.1:8000/v1 --llm-model NAME]   (backends openai and prompt-embeds; key: $OPENAI_API_KEY)
        [--kserve-url http://127.0.0.1:8000]   (the model directory's encoders on Triton/KServe: the kserve kit)
        [--fps 1] [--budget 8192] [--since-ms MS] [--until-ms MS] [--retention ${PLUGINS.retention.names().join('|')}]
        [--max-frames 400] [--preset longvu-qwen2-7b|longvu-llama3.2-3b|paper] [--seed N] [--max-new-tokens N]
        replay a video file as a stream through the whole engine (sample, DINO gate, SVA, projector, retention),
        then ask one question over the retained context. Without FILE: the sample video, OpenCV's vtest.avi (a
        static camera over a pedestrian street) from Debian's opencv-doc — installed, or fetched once on a terminal
        (lvu models fetch footage) — else a generated test pattern. --models: a directory, starter, builtin, or (default) auto — the starter
        set when fetched, fetched on first use on a terminal, else the built-in encoder. --json: one JSON object (answer, evidence, token counts, timings).
        A file that ends before its stated duration (cut short) is answered over what it has, with
        replay.truncated set, a TRUNCATED_MEDIA warning on stderr and exit status 3
        backends:
${PLUGINS.backends.help('          ')}
        retention policies:
${PLUGINS.retention.help('          ')}
        sources:
${PLUGINS.sources.help('          ')}`;

/** Exit status of a replay or ingest whose file was cut short (the output covers what was before the cut). */
export const EXIT_TRUNCATED = 3;

const DEFAULT_QUESTION = 'What happens in this video, and when?';

export interface ReplayOutput extends QueryResult {
  source: string;
  note: string | null;
  replay: {
    sampled: number;
    kept: number;
    windows: number;
    retained: number;
    evicted: number;
    failed: number;
    /** The file ended before its stated duration (cut short): where; null when complete. */
    truncated: { positionMs: number; durationMs: number } | null;
  };
  /** sha256 of the retained context (seq, pts, every token value): equal for equal replays. */
  contextDigest: string;
  timingsMs: QueryResult['timingsMs'] & { replay: number };
}

export async function replayCommand(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      query: { type: 'string' },
      json: { type: 'boolean', default: false },
      models: { type: 'string' },
      backend: { type: 'string' },
      fps: { type: 'string' },
      budget: { type: 'string' },
      'since-ms': { type: 'string' },
      'until-ms': { type: 'string' },
      retention: { type: 'string' },
      'max-frames': { type: 'string' },
      preset: { type: 'string' },
      seed: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      'llm-url': { type: 'string' },
      'kserve-url': { type: 'string' },
      'llm-model': { type: 'string' },
      'openai-url': { type: 'string' },
      'openai-model': { type: 'string' },
    },
  });
  if (positionals.length > 1)
    throw new LvuError('INVALID_ARGUMENT', `usage: ${REPLAY_USAGE}`, { field: 'FILE' });
  const onTerminal = !values.json && process.stderr.isTTY === true;
  const say = (line: string) => process.stderr.write(`lvu replay: ${line}\n`);
  const sample = positionals[0] === undefined ? await chooseSample({ fetch: onTerminal, say }) : null;
  const file = positionals[0] ?? sample!.file;
  const sampleNote = sample?.note ?? null;
  const backend = values.backend ?? 'auto';
  const plugins = PLUGINS;
  if (backend !== 'auto' && !plugins.backends.has(backend)) {
    throw new LvuError('INVALID_ARGUMENT', `--backend must be auto, ${plugins.backends.names().join(', ')}`, {
      field: 'backend',
    });
  }
  const retention: RetentionInput = {};
  if (values.retention) retention.policy = values.retention as RetentionInput['policy'];
  const maxFrames = numberArg(values['max-frames'], 'max-frames', 2);
  if (maxFrames !== undefined) retention.maxFrames = maxFrames;
  const budget = numberArg(values.budget, 'budget', 64);
  const maxNew = numberArg(values['max-new-tokens'], 'max-new-tokens', 1);
  const seed = numberArg(values.seed, 'seed', 0);
  const models = await chooseModels(values.models, { fetch: onTerminal, say });
  const engine = await createEngine({
    plugins,
    models,
    backend,
    ...(backend === 'openai' || backend === 'prompt-embeds'
      ? {
          [backend]: {
            url: values['llm-url'] ?? values['openai-url'] ?? '',
            model: values['llm-model'] ?? values['openai-model'] ?? '',
            ...(process.env.OPENAI_API_KEY ? { apiKey: process.env.OPENAI_API_KEY } : {}),
          },
        }
      : {}),
    ...(values['kserve-url'] ? { kserve: { url: values['kserve-url'] } } : {}),
    retention,
    longvu: {
      ...(budget ? { contextTokens: budget } : {}),
      ...(values.preset ? { preset: values.preset as 'paper' } : {}),
    },
    ...(maxNew ? { query: { maxNewTokens: maxNew } } : {}),
    ...(seed !== undefined ? { generation: { seed } } : {}),
  });
  const progress = values.json ? null : new ProgressLine();
  const t0 = performance.now();
  try {
    if (!values.json) {
      process.stderr.write(`lvu replay: ${file}${sampleNote ? ` (${sampleNote})` : ''}\n`);
      process.stderr.write(
        `encoder: ${engine.vision.description}${engine.vision.builtin ? ' — `npx lvu models fetch starter` for real pretrained models' : ''}\n`,
      );
    }
    const id = 'replay';
    // one source has the machine to itself: FFmpeg picks the decoder threads
    engine.addStream({
      id,
      source: file,
      sourceOptions: { fps: numberArg(values.fps, 'fps', 0.001) ?? 1, threads: 0 },
    });
    const timer = setInterval(() => {
      const s = engine.status(id);
      const src = s.source_stats as { durationMs: number | null } | undefined;
      const pts = s.counters.lastPtsMs ?? 0;
      const dur = src?.durationMs ?? null;
      progress?.update(
        `${dur ? `${bar(pts / dur)} ${clock(pts)} / ${clock(dur)}` : clock(pts)}  sampled ${s.counters.sampled}  ` +
          `kept ${s.counters.kept}  retained ${s.store.retainedFrames}  tokens ${s.retainedTokens}`,
      );
    }, 200);
    try {
      await engine.whenDone(id);
    } finally {
      clearInterval(timer);
      progress?.done();
    }
    const status = engine.status(id);
    if (status.state === 'failed') {
      throw new LvuError(
        (status.error?.code as 'DECODE_FAILED') ?? 'INTERNAL',
        `replay of ${file} failed: ${status.error?.message}`,
        { field: 'FILE' },
      );
    }
    const tReplay = performance.now() - t0;
    let said = false;
    const r = await engine.query(id, {
      question: values.query ?? DEFAULT_QUESTION,
      sinceMs: numberArg(values['since-ms'], 'since-ms', 0),
      untilMs: numberArg(values['until-ms'], 'until-ms', 0),
      onText: values.json
        ? undefined
        : (t) => {
            if (!said) process.stdout.write('answer: ');
            said = true;
            process.stdout.write(t);
          },
    });
    if (said) process.stdout.write('\n');
    const h = createHash('sha256');
    for (const f of engine.frames(id)) {
      h.update(`${f.seq}:${f.ptsMs};`);
      h.update(new Uint8Array(f.hi.buffer, f.hi.byteOffset, f.hi.byteLength));
      h.update(new Uint8Array(f.lo.buffer, f.lo.byteOffset, f.lo.byteLength));
    }
    const out: ReplayOutput = {
      ...r,
      source: file,
      note: engine.vision.builtin
        ? 'built-in weight-free encoder and no LLM: the frames kept, evicted and scored are real decisions on ' +
          'colour and gradient statistics, but nothing is understood; `npx lvu models fetch starter` gets real pretrained ' +
          'models (docs/models.md)'
        : r.answer === null
          ? 'no LLM in the model directory: evidence only'
          : null,
      replay: {
        sampled: status.counters.sampled,
        kept: status.counters.kept,
        windows: status.counters.windows,
        retained: status.store.retainedFrames,
        evicted: status.store.evictedTotal,
        failed: status.counters.failedFrames,
        truncated:
          (status.source_stats as { truncated?: ReplayOutput['replay']['truncated'] }).truncated ?? null,
      },
      contextDigest: h.digest('hex'),
      timingsMs: { ...r.timingsMs, replay: tReplay },
    };
    if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else process.stdout.write(formatReplay(out));
    const cut = out.replay.truncated;
    if (cut) {
      // the answer covers what was before the cut; the exit status says the input was incomplete
      process.stderr.write(
        `${JSON.stringify(truncatedError(file, cut.positionMs, cut.durationMs).toJSON())}\n`,
      );
      return EXIT_TRUNCATED;
    }
    return 0;
  } finally {
    await engine.close();
  }
}

function formatReplay(o: ReplayOutput): string {
  const t = (ms: number) => clock(ms);
  const lines = [
    `replayed ${o.replay.sampled} sampled frames in ${(o.timingsMs.replay / 1000).toFixed(1)} s: ${o.replay.kept} kept ` +
      `by the DINO gate in ${o.replay.windows} windows, ${o.replay.retained} retained, ${o.replay.evicted} evicted`,
    `question: ${o.question}`,
  ];
  if (o.answer === null) lines.push(`answer: none (backend ${o.backend}: evidence only)`);
  lines.push(
    `high-resolution frames: ${
      o.evidence.highRes.length === 0
        ? 'none'
        : `${o.evidence.highRes.length}: ${o.evidence.highRes
            .slice(0, 10)
            .map((f) => t(f.ptsMs))
            .join(', ')}${o.evidence.highRes.length > 10 ? ', …' : ''}`
    } (mode ${o.mode})`,
    `best-scoring frames: ${o.evidence.topScored.map((f) => `${t(f.ptsMs)} (${f.score?.toFixed(3)})`).join(', ')}`,
    `tokens: ${o.totalTokens} of ${o.budgetTokens} (visual ${o.visualTokens}, text ${o.textTokens}) over ` +
      `${o.frames} frames from ${t(o.range.fromMs)} to ${t(o.range.toMs)}`,
    `timings: replay ${(o.timingsMs.replay / 1000).toFixed(1)} s, question ${o.timingsMs.total.toFixed(0)} ms`,
  );
  if (o.note) lines.push(`note: ${o.note}`);
  return `${lines.join('\n')}\n`;
}
