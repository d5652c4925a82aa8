import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LvuError } from '@lvu/core';
import { type EnginePlugins, StandingQuestions } from '@lvu/engine';
import {
  createHttpServer,
  loadPipelineConfig,
  type PipelineConfig,
  pipelineConfigSchema,
  toStreamSpec,
} from '@lvu/server';
import { chooseModels } from './default-models.js';
import { portArg } from './number-arg.js';
import { createEngine, defaultPlugins } from './plugins.js';
import { runUntilSignal } from './progress.js';

/** `lvu serve --help` for a program's plug-ins: every source with the options a declared stream of it takes. */
export function serveUsage(plugins: EnginePlugins): string {
  return `lvu serve [--config PIPELINE.yaml] [--host 127.0.0.1] [--port 8080] [--models DIR] [--state-dir DIR]
        run the engine with its HTTP API (OpenAPI at /openapi.json), timeline page at /, /metrics; streams and
        standing questions from the pipeline YAML (\${env:NAME:-default} substituted), more added at runtime
        with POST /v1/streams. A host other than loopback needs server.token (or LVU_TOKEN).
        --state-dir (engine.stateDir): contexts and alert states saved there every engine.checkpointSeconds and
        on SIGTERM; started again with it, the server serves the same frames and continues every live stream
        engine.backend: auto, ${plugins.backends.names().join(', ')}
${plugins.backends.help('          ')}
        a stream is {id, source, retention?} plus the options of the source that opens it:
${plugins.sources.help('          ')}
        retention.policy (engine.retention and a stream's retention):
${plugins.retention.help('          ')}`;
}

export const SERVE_USAGE = serveUsage(defaultPlugins());

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      models: { type: 'string' },
      'state-dir': { type: 'string' },
    },
  });
  const plugins = defaultPlugins();
  const c: PipelineConfig = values.config
    ? loadPipelineConfig(values.config, plugins)
    : (pipelineConfigSchema(plugins).parse({}) as PipelineConfig);
  if (values.host) c.server.host = values.host;
  if (values.port !== undefined) c.server.port = portArg(values.port);
  if (values.models) c.engine.models = values.models;
  if (values['state-dir']) c.engine.stateDir = resolve(values['state-dir']);
  // no models configured: the starter set when it has been fetched (a server does not download on its own)
  c.engine.models = await chooseModels(c.engine.models ?? undefined, {
    fetch: false,
    say: (line) => process.stderr.write(`lvu serve: ${line}\n`),
  });
  c.server.token ??= process.env.LVU_TOKEN || undefined;
  const engine = await createEngine({ ...c.engine, models: c.engine.models ?? undefined, plugins });
  // what an operator must see even without metrics: durability failing, state set aside, streams failing
  engine.events.on((e) => {
    const line =
      e.type === 'checkpoint.failed'
        ? `${e.streamId}: checkpoint failed (${e.failures} in a row; the last good one is kept, retrying): ${e.message}`
        : e.type === 'checkpoint.recovered'
          ? `${e.streamId}: checkpoints work again after ${e.failures} failures`
          : e.type === 'spill.failed'
            ? `${e.streamId}: spill turned off: ${e.message}`
            : e.type === 'state.unreadable'
              ? `${e.streamId}: saved state unreadable, set aside as ${e.file} (the stream starts afresh): ${e.message}`
              : e.type === 'stream.failed'
                ? `${e.streamId}: failed (${e.code}): ${e.message}`
                : null;
    if (line) process.stderr.write(`${new Date().toISOString()} lvu serve: ${line}\n`);
  });
  const standing = new StandingQuestions(
    engine,
    engine.stateDir ? { stateFile: join(engine.stateDir, 'standing.json') } : {},
  );
  let app: Awaited<ReturnType<typeof createHttpServer>>;
  try {
    app = await createHttpServer(engine, {
      host: c.server.host,
      port: c.server.port,
      token: c.server.token ?? undefined,
      bodyLimit: c.server.bodyLimit,
      ...(c.server.allowedHosts ? { allowedHosts: c.server.allowedHosts } : {}),
      maxConcurrentQueries: c.server.maxConcurrentQueries,
      maxConcurrentSearches: c.server.maxConcurrentSearches,
      maxQueued: c.server.maxQueued,
      standing,
    });
    // the port first: a server that cannot listen opens no source and writes no state
    try {
      await app.listen({ host: c.server.host, port: c.server.port });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw err;
      throw new LvuError('INVALID_CONFIG', `cannot listen on ${c.server.host}:${c.server.port} (${code})`, {
        field: 'server.port',
        hint:
          code === 'EADDRINUSE'
            ? 'another process (another lvu serve?) uses that port: stop it or pick another with --port'
            : 'pick another host or port (--host, --port)',
      });
    }
    // declared streams (continuing their saved contexts), then those saved from an earlier run
    const r = engine.resume(c.streams.map(toStreamSpec));
    if (engine.stateDir && r.resumed.length + r.held.length > 0) {
      process.stderr.write(
        `lvu serve: from ${engine.stateDir}: continuing ${r.resumed.join(', ') || 'none'}; kept (ended or removed) ${r.held.join(', ') || 'none'}\n`,
      );
    }
    for (const q of c.standing) standing.add(q);
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
  await runUntilSignal(() => {
    const parts = engine.listStreams().map((s) => {
      const age = s.counters.lastFrameWallMs
        ? ((Date.now() - s.counters.lastFrameWallMs) / 1000).toFixed(1)
        : '-';
      return `${s.id}: ${s.state} ${s.counters.sampled} sampled ${s.counters.kept} kept ${s.store.retainedFrames} retained, last ${age}s`;
    });
    return parts.join(' | ') || 'no streams';
  });
  standing.close();
  await app.close();
  await engine.close();
  return 0;
}
