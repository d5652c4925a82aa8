import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPlugins, serveUsage } from '@lvu/cli';
import { LvuError } from '@lvu/core';
import {
  type BackendFactory,
  builtinPlugins,
  Engine,
  engineConfigSchema,
  retentionPolicies,
} from '@lvu/engine';
import { createHttpServer, loadPipelineConfig, openApiDocument } from '@lvu/server';
import { describe, expect, it } from 'vitest';
import { fakeSource } from './support/fake-source.js';
import { repoRoot } from './support/paths.js';

/** The plug-ins a program would have after one registration each. */
function withFakes() {
  const p = defaultPlugins();
  p.sources.register(fakeSource);
  const echo: BackendFactory = {
    name: 'echo',
    description: 'says the question back with the frames it saw',
    create: () => ({
      name: 'echo',
      answer: async (req) => `${req.question} (${req.frames.length} frames)`,
    }),
  };
  p.backends.register(echo);
  return p;
}

describe('plug-in points: a new source and a new backend are one file and one registration', () => {
  it('a source registered for its scheme feeds a stream through the whole write path', async () => {
    const engine = await Engine.create({ plugins: withFakes(), backend: 'echo' });
    try {
      engine.addStream({ id: 'f', source: 'fake:grey', sourceOptions: { count: 32, colour: 90 } });
      await engine.whenDone('f');
      const st = engine.status('f');
      expect(st).toMatchObject({ state: 'ended', source: 'fake:grey', counters: { sampled: 32 } });
      expect(st.source_stats).toEqual({ produced: 32 });
      expect(st.counters.kept).toBeGreaterThan(0);
      const r = await engine.query('f', { question: 'what is there?' });
      expect(r.answer).toBe(`what is there? (${st.store.retainedFrames} frames)`);
      // its options are checked by its own schema when the stream is added
      expect(() => engine.addStream({ id: 'g', source: 'fake:x', sourceOptions: { count: 0 } })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG', field: 'count' }),
      );
    } finally {
      await engine.close();
    }
  });

  it('a scheme nobody registered is refused with the schemes this program opens; two owners of one scheme are refused', async () => {
    const engine = await Engine.create({ plugins: builtinPlugins() });
    try {
      expect(() => engine.addStream({ id: 'x', source: 'rtsp://127.0.0.1/cam' })).toThrow(
        expect.objectContaining({ code: 'UNSUPPORTED_MEDIA', field: 'source' }),
      );
      expect(engine.listStreams()).toEqual([]);
    } finally {
      await engine.close();
    }
    expect(() => withFakes().sources.register({ ...fakeSource, name: 'other' })).toThrow(LvuError);
  });

  it('lvu ingest opens its source through the registry: the factory of the scheme, checked by its schema', () => {
    const ingest = (...args: string[]) =>
      spawnSync(process.execPath, ['packages/cli/bin/lvu.js', 'ingest', ...args, '--json'], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const lastError = (r: { stderr: string }) => JSON.parse(r.stderr.trim().split('\n').at(-1)!);
    // a scheme no registered factory claims: the registry's refusal, naming what this program opens
    const unknown = ingest('onvif://127.0.0.1/cam');
    expect(unknown.status).not.toBe(0);
    expect(lastError(unknown)).toMatchObject({ error: 'UNSUPPORTED_MEDIA', field: 'source' });
    expect(lastError(unknown).hint).toContain('rtsp:');
    // a flag FFmpeg's factory refuses, by its own options schema
    const bad = ingest('lavfi:testsrc=size=64x48:rate=5', '--resize', 'sideways');
    expect(lastError(bad)).toMatchObject({ error: 'INVALID_CONFIG', field: 'resize' });
    // and the frames of what it opens
    const ok = ingest('lavfi:testsrc=size=64x48:rate=5:duration=3', '--stream-id', 'pattern');
    expect(ok.status, ok.stderr).toBe(0);
    const frames = ok.stdout.split('\n').filter((l) => l.includes('"seq"'));
    expect(frames.length).toBe(3);
    expect(JSON.parse(frames[0]!)).toMatchObject({ streamId: 'pattern', seq: 0 });
  }, 120_000);

  it('its options appear in the stream schema of the API, the OpenAPI document, the pipeline YAML and --help', async () => {
    const plugins = withFakes();
    const doc = (await openApiDocument({ auth: false, sources: plugins.sources })) as {
      components: { schemas: { StreamSpec: { properties: Record<string, { description?: string }> } } };
    };
    const props = doc.components.schemas.StreamSpec.properties;
    expect(props.count?.description).toBe('frames before the source ends');
    expect(props.fps).toBeDefined(); // ffmpeg's stay
    const dir = mkdtempSync(join(tmpdir(), 'lvu-plugins-'));
    const yaml = join(dir, 'p.yaml');
    writeFileSync(yaml, 'engine:\n  backend: echo\nstreams:\n  - {id: a, source: "fake:a", count: 5}\n');
    const c = loadPipelineConfig(yaml, plugins, {});
    expect(c.engine.backend).toBe('echo');
    expect(c.streams[0]).toMatchObject({ id: 'a', source: 'fake:a', count: 5 });
    writeFileSync(yaml, 'streams:\n  - {id: a, source: "fake:a", count: many}\n');
    expect(() => loadPipelineConfig(yaml, plugins, {})).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', field: 'streams.0.count' }),
    );
    // a program without the fake backend refuses it by name, listing the ones it has
    writeFileSync(yaml, 'engine:\n  backend: echo\n');
    expect(() => loadPipelineConfig(yaml, defaultPlugins(), {})).toThrow(
      expect.objectContaining({ field: 'engine.backend' }),
    );
    const help = serveUsage(plugins);
    expect(help).toContain('fake (fake:): flat test frames of one colour');
    expect(help).toContain('count: frames before the source ends');
    expect(help).toContain('echo: says the question back');
    expect(engineConfigSchema(plugins).jsonSchema()).toMatchObject({
      properties: { backend: { enum: expect.arrayContaining(['auto', 'echo', 'openai']) } },
    });
  });

  it('POST /v1/streams takes the new source with its options', async () => {
    // a new scheme is the API's only once the operator allows it
    const engine = await Engine.create({ plugins: withFakes(), sourcePolicy: { schemes: ['fake'] } });
    const app = await createHttpServer(engine, { port: 0 });
    try {
      const refused = await app.inject({
        method: 'POST',
        url: '/v1/streams',
        payload: { id: 'api', source: 'lavfi:testsrc' },
      });
      expect([refused.statusCode, refused.json().error]).toEqual([403, 'FORBIDDEN']);
      const res = await app.inject({
        method: 'POST',
        url: '/v1/streams',
        payload: { id: 'api', source: 'fake:api', count: 4, colour: 10 },
      });
      expect(res.statusCode).toBe(201);
      await engine.whenDone('api');
      expect(engine.status('api').counters.sampled).toBe(4);
      const bad = await app.inject({
        method: 'POST',
        url: '/v1/streams',
        payload: { id: 'b', source: 'fake:b', colour: 999 },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: 'INVALID_CONFIG', field: 'colour' });
    } finally {
      await app.close();
      await engine.close();
    }
  });

  it('retention policies come from one registry: the schema lists them, the store uses them', () => {
    expect(retentionPolicies.names()).toEqual(['pyramid', 'uniform', 'recent']);
    expect(engineConfigSchema().jsonSchema()).toMatchObject({
      properties: { retention: { properties: { policy: { enum: ['pyramid', 'uniform', 'recent'] } } } },
    });
  });

  it('a retention policy a program registers is in the engine schema, the stream schema, OpenAPI and --help, and is used', async () => {
    const plugins = defaultPlugins();
    plugins.sources.register(fakeSource);
    plugins.retention.register({
      name: 'keep-first',
      description: 'keeps the first frames: the newest goes when full',
      victim: (frames) => frames.length - 1,
    });
    // registered on this program's plug-ins, not on the built-in registry other programs start from
    expect(retentionPolicies.names()).toEqual(['pyramid', 'uniform', 'recent']);
    const policyEnum = { policy: { enum: ['pyramid', 'uniform', 'recent', 'keep-first'] } };
    expect(engineConfigSchema(plugins).jsonSchema()).toMatchObject({
      properties: { retention: { properties: policyEnum } },
    });
    const doc = (await openApiDocument({
      auth: false,
      sources: plugins.sources,
      retention: plugins.retention,
    })) as {
      components: { schemas: { StreamSpec: { properties: { retention: unknown } } } };
    };
    expect(doc.components.schemas.StreamSpec.properties.retention).toMatchObject({ properties: policyEnum });
    expect(serveUsage(plugins)).toContain('keep-first: keeps the first frames');
    const dir = mkdtempSync(join(tmpdir(), 'lvu-plugins-'));
    const yaml = join(dir, 'p.yaml');
    writeFileSync(yaml, 'engine:\n  retention: {policy: keep-first}\n');
    expect(loadPipelineConfig(yaml, plugins, {}).engine.retention).toMatchObject({ policy: 'keep-first' });
    expect(() => loadPipelineConfig(yaml, defaultPlugins(), {})).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', field: 'engine.retention.policy' }),
    );

    const engine = await Engine.create({
      plugins,
      retention: { policy: 'keep-first', maxFrames: 2 },
      sourcePolicy: { schemes: ['fake'] },
    });
    const app = await createHttpServer(engine, { port: 0 });
    try {
      engine.addStream({ id: 'k', source: 'fake:k', sourceOptions: { count: 64, colour: 50 } });
      await engine.whenDone('k');
      const kept = engine
        .context('k')
        .timeline.filter((t) => t.kind === 'kept')
        .map((t) => t.seq);
      expect(kept.length).toBeGreaterThan(2);
      // the policy decided: the first two kept frames stay, every later one was the one evicted
      expect(engine.frames('k').map((f) => f.seq)).toEqual(kept.slice(0, 2));
      const ok = await app.inject({
        method: 'POST',
        url: '/v1/streams',
        payload: { id: 'api', source: 'fake:api', count: 4, retention: { policy: 'keep-first' } },
      });
      expect(ok.statusCode).toBe(201);
      const bad = await app.inject({
        method: 'POST',
        url: '/v1/streams',
        payload: { id: 'api2', source: 'fake:api', count: 4, retention: { policy: 'oldest' } },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: 'INVALID_CONFIG', field: 'retention.policy' });
    } finally {
      await app.close();
      await engine.close();
    }
  });
});
