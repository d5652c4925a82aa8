import { createEngine } from '@lvu/cli';
import { serverError } from '@lvu/engine';
import { describe, expect, it } from 'vitest';

/**
 * The served backends' configuration and error mapping. Their protocol is proven against real servers elsewhere:
 * `openai` against llama.cpp's servers (tests/llama-server.test.ts), `prompt-embeds` with PyTorch and transformers
 * (tests/prompt-embeds.test.ts).
 */
describe('openai and prompt-embeds backends', () => {
  it("a server's refusal becomes a coded error saying what to do", () => {
    const t = { url: 'http://h/v1', timeoutMs: 1000, field: 'prompt-embeds' };
    const e = (status: number, body: string) => serverError(status, body, t, 'http://h/v1/completions');
    // vLLM's own words for a prompt over --max-model-len, and llama.cpp's
    expect(
      e(400, "This model's maximum context length is 4096 tokens. However, you requested 9000 tokens"),
    ).toMatchObject({ code: 'CONTEXT_OVERFLOW', field: 'prompt-embeds', retriable: false });
    expect(e(400, 'the request exceeds the available context size')).toMatchObject({
      code: 'CONTEXT_OVERFLOW',
    });
    expect(e(400, 'You must set `--enable-prompt-embeds` to input `prompt_embeds`.')).toMatchObject({
      code: 'INVALID_CONFIG',
      hint: expect.stringMatching(/--enable-prompt-embeds/),
    });
    expect(e(404, 'The model `x` does not exist.')).toMatchObject({ code: 'NOT_FOUND' });
    expect(e(401, 'bad key')).toMatchObject({ code: 'FORBIDDEN', hint: expect.stringMatching(/apiKey/) });
    expect(e(429, 'busy')).toMatchObject({ code: 'OVERLOADED', retriable: true });
    expect(e(503, 'loading')).toMatchObject({ code: 'TRANSPORT_UNAVAILABLE', retriable: true });
    expect(e(400, 'temperature must be positive')).toMatchObject({
      code: 'INFERENCE_FAILED',
      retriable: false,
    });
  });

  it('an unreachable server or a missing configuration is a clear error', async () => {
    await expect(createEngine({ backend: 'openai' })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'openai',
    });
    await expect(
      createEngine({ backend: 'openai', openai: { url: 'not a url', model: 'm' } }),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'openai.url' });
    const engine = await createEngine({
      backend: 'openai',
      openai: { url: 'http://127.0.0.1:9/v1', model: 'm' },
    });
    try {
      // synthetic sampled frames (the source may be any async iterable of SampledFrames)
      const frames = (async function* () {
        for (let seq = 0; seq < 20; seq++) {
          const img = (side: number) => new Uint8Array(side * side * 3).fill((seq * 37) % 256);
          yield {
            streamId: 'syn',
            seq,
            ptsMs: seq * 1000,
            wallMs: Date.now(),
            width: 640,
            height: 480,
            images: { 96: img(96), 384: img(384) },
          };
        }
      })();
      engine.addStream({ id: 'syn', source: frames });
      await engine.whenDone('syn');
      expect(engine.status('syn').counters.kept).toBeGreaterThan(0);
      await expect(engine.query('syn', { question: 'hi' })).rejects.toMatchObject({
        code: 'TRANSPORT_UNAVAILABLE',
        field: 'openai.url',
      });
      expect(engine.status('syn').store.retainedFrames).toBe(engine.status('syn').counters.kept);
    } finally {
      await engine.close();
    }
  });
});
