/**
 * The Python environments and servers the model tests need, built from PyPI once per machine: the exporter's
 * (.venv: torch, transformers, onnx), a tiny random Qwen2-VL as GGUF (llama.cpp's own converter from the
 * llama-cpp-python sdist, tools/export/vlm_gguf.py), llama-cpp-python[server] (.venv-llama), llama.cpp's C++
 * llama-server (tools/llama/fetch.sh server) and NVIDIA Triton (nvidia-pytriton, .venv-triton).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { repoRoot } from './paths.js';

export interface TinyVlm {
  model: string;
  mmproj: string;
  /** Token ids of the special tokens (<|im_end|>, <|endoftext|>, …). */
  special: Record<string, number>;
}

const run = (cmd: string, args: string[], env: Record<string, string> = {}) =>
  execFileSync(cmd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  }).trim();

/** A virtualenv with `requirements` installed (tools/python-env.sh); its python. */
function venvPython(requirements: string, env: Record<string, string> = {}): string {
  return run(resolve(repoRoot, 'tools/python-env.sh'), [resolve(repoRoot, requirements)], env)
    .split('\n')
    .at(-1)!;
}

/** The exporter's Python (.venv with torch, transformers, onnx; created on first use, ~90 s). */
export function exportPython(): string {
  return venvPython('tools/requirements-export.txt');
}

/** Triton's Python (.venv-triton): its backend stub links the system's libpython, so /usr/bin/python3 makes it. */
export function tritonPython(): string {
  return venvPython('tools/requirements-triton.txt', {
    LVU_VENV: resolve(repoRoot, '.venv-triton'),
    LVU_PYTHON: '/usr/bin/python3',
  });
}

/** The tiny Qwen2-VL GGUF pair, written into a fresh directory. */
export function tinyVlm(): TinyVlm {
  const python = exportPython();
  const converter = run(resolve(repoRoot, 'tools/llama/fetch.sh'), ['converter']).split('\n').at(-1)!;
  const out = mkdtempSync(join(tmpdir(), 'lvu-vlm-'));
  const res = run(python, [
    resolve(repoRoot, 'tools/export/vlm_gguf.py'),
    '--converter',
    converter,
    '--out',
    out,
  ]);
  return JSON.parse(res.split('\n').at(-1)!) as TinyVlm;
}

/** The Python of the virtualenv with llama-cpp-python[server] (pip builds it from source once, ~4 min). */
export function llamaPython(): string {
  return venvPython('tools/requirements-llama.txt', {
    LVU_VENV: resolve(repoRoot, '.venv-llama'),
    CMAKE_BUILD_PARALLEL_LEVEL: '2',
  });
}

/** llama.cpp's llama-server binary (built once, ~6 min on 2 cores). */
export function llamaServerBinary(): string {
  return run(resolve(repoRoot, 'tools/llama/fetch.sh'), ['server']).split('\n').at(-1)!;
}
