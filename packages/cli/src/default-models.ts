import { LvuError } from '@lvu/core';
import { isStarterDir, starterDir } from '@lvu/models';
import { fetchStarter } from './models-command.js';

/**
 * The model directory a command runs with: `--models` (a directory, `starter`, or `builtin` for the weight-free
 * encoder), else LVU_MODELS, else `auto`: the starter set when it has been fetched; on a person's terminal
 * (`fetch`), fetched on first use with progress; otherwise, or when the fetch fails (offline), the built-in encoder,
 * saying so. Returns undefined for the built-in encoder.
 */
export async function chooseModels(
  given: string | undefined,
  o: { fetch: boolean; say: (line: string) => void },
): Promise<string | undefined> {
  const want = given ?? process.env.LVU_MODELS ?? 'auto';
  if (want === 'builtin') return undefined;
  if (want !== 'auto') return want;
  if (isStarterDir('starter')) return 'starter';
  if (!o.fetch) {
    o.say(
      'no models: the built-in weight-free encoder runs (`npx lvu models fetch starter` gets real pretrained ones)',
    );
    return undefined;
  }
  o.say('first run: fetching the starter set of real pretrained models (about 40 MB, a minute or two)');
  try {
    await fetchStarter(starterDir(), false);
    return 'starter';
  } catch (err) {
    const e = err instanceof LvuError ? `${err.code}: ${err.message}` : String(err);
    o.say(`could not fetch the starter set (${e}); the built-in weight-free encoder runs instead`);
    return undefined;
  }
}
