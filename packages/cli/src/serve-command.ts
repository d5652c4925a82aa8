import { parseArgs } from 'node:util';
import { LvuError } from '@lvu/core';
import {
  createHttpServer,
  Engine,
  loadPipelineConfig,
  type PipelineConfig,
  pipelineConfigSchema,
  StandingQuestions,
  toStreamSpec,
} from '@lvu/engine';
import { ProgressLine } from './progress.js';

export const SERVE_USAGE = `lvu serve [--config PIPELINE.yaml] [--host 127.0.0.1] [--port 8080] [--models DIR]
        run the engine with its HTTP API (OpenAPI at /openapi.json), timeline page at /, /metrics; streams and
        standing questions from the pipeline YAML (\${env:NAME:-default} substituted), more added at runtime
        with POST /v1/streams. A host other than loopback needs server.token (or LVU_TOKEN)`;

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      models: { type: 'string' },
    },
  });
  const c: PipelineConfig = values.config
    ? loadPipelineConfig(values.config)
    : pipelineConfigSchema.parse({});
  if (values.host) c.server.host = values.host;
  if (values.port !== undefined) {
    const p = Number(values.port);
    if (!Number.isInteger(p) || p < 0 || p > 65535) {
      throw new LvuError('INVALID_ARGUMENT', `--port must be 0–65535, got "${values.port}"`, {
        field: 'port',
      });
    }
    c.server.port = p;
  }
  if (values.models) c.engine.models = values.models;
  c.server.token ??= process.env.LVU_TOKEN || undefined;
  const { preset, ...longvu } = c.engine.longvu;
  const engine = await Engine.create({
    models: c.engine.models ?? undefined,
    backend: c.engine.backend,
    ...(c.engine.openai ? { openai: c.engine.openai } : {}),
    longvu: { ...longvu, ...(preset ? { preset } : {}) },
    retention: c.engine.retention,
    ...(c.engine.spill ? { spill: c.engine.spill } : {}),
    query: c.engine.query,
    generation: c.engine.generation,
  });
  const standing = new StandingQuestions(engine);
  let app: Awaited<ReturnType<typeof createHttpServer>>;
  try {
    app = await createHttpServer(engine, {
      host: c.server.host,
      port: c.server.port,
      token: c.server.token ?? undefined,
      bodyLimit: c.server.bodyLimit,
      standing,
    });
    for (const s of c.streams) engine.addStream(toStreamSpec(s) as Parameters<Engine['addStream']>[0]);
    for (const q of c.standing) standing.add(q);
    await app.listen({ host: c.server.host, port: c.server.port });
  } catch (err) {
    standing.close();
    await engine.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : c.server.port;
  process.stdout.write(
    `lvu serving http://${c.server.host}:${port}/ (${engine.listStreams().length} streams, ${engine.vision.description})\n`,
  );
  const progress = process.stderr.isTTY ? new ProgressLine() : null;
  const timer = setInterval(() => {
    const parts = engine.listStreams().map((s) => {
      const age = s.counters.lastFrameWallMs
        ? ((Date.now() - s.counters.lastFrameWallMs) / 1000).toFixed(1)
        : '-';
      return `${s.id}: ${s.state} ${s.counters.sampled} sampled ${s.counters.kept} kept ${s.store.retainedFrames} retained, last ${age}s`;
    });
    progress?.update(parts.join(' | ') || 'no streams');
  }, 1000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  progress?.done();
  standing.close();
  await app.close();
  await engine.close();
  return 0;
}
