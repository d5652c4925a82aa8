import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The golden LongVU conformance cases (tests/golden/README.md), written by the repository's NumPy reference. */
export const goldenDir = resolve(repoRoot, 'tests/golden');

/** The folder of the repository's NumPy reference of LongVU's inference path (`longvu_ref.py`). */
export const referenceDir = resolve(repoRoot, 'tools/reference');
