import type { EventBus } from '@lvu/core';
import { builtinPlugins, Engine, type EngineConfig, type EnginePlugins } from '@lvu/engine';
import { ffmpegSource } from '@lvu/ffmpeg';

/**
 * The composition root: what the `lvu` command plugs into its engines. The engine's own model kits and backends,
 * plus the sources: FFmpeg's (files, RTSP, HTTP/HLS, lavfi). A new source, backend or model kit is registered here.
 */
export function defaultPlugins(): EnginePlugins {
  const p = builtinPlugins();
  p.sources.register(ffmpegSource);
  return p;
}

/** An engine with the `lvu` command's plug-ins (unless `c.plugins` says otherwise). */
export function createEngine(c: EngineConfig = {}, events?: EventBus): Promise<Engine> {
  return Engine.create({ plugins: defaultPlugins(), ...c }, events);
}
