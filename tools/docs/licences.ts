/**
 * Writes docs/licences.md: the licence of every package `lvu` installs with (npm production dependencies, read from
 * package-lock.json: exactly what `npm ci --omit=dev` or an install of the packed CLI resolves) and of every model
 * weight file and video lvu fetches (tools/starter/fetch.py's pinned sources, the CLI's sample video). tests/pack.test.ts keeps
 * the page current.
 *
 *   npx tsx tools/docs/licences.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SAMPLE } from '../../packages/cli/src/sample-video.js';

const root = resolve(import.meta.dirname, '../..');

interface LockEntry {
  version?: string;
  license?: string;
  dev?: boolean;
  link?: boolean;
  optional?: boolean;
}

export function licencesPage(): string {
  const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const rows = new Map<string, string>();
  for (const [path, e] of Object.entries(lock.packages)) {
    if (!path.includes('node_modules/') || e.dev || e.link) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    rows.set(
      `${name}@${e.version}`,
      `| \`${name}\` | ${e.version} | ${e.license ?? 'not stated'} |${e.optional ? ' optional |' : ' |'}`,
    );
  }
  const byLicence = new Map<string, number>();
  for (const r of rows.values()) {
    const l = r.split(' | ')[2]!;
    byLicence.set(l, (byLicence.get(l) ?? 0) + 1);
  }
  const fetchPy = readFileSync(resolve(root, 'tools/starter/fetch.py'), 'utf8');
  // a dict of fetch.py (`NAME = {` at the start of a line) up to its closing brace
  const dict = (name: string) => {
    const at = fetchPy.indexOf(`\n${name} = {`);
    return fetchPy.slice(at, fetchPy.indexOf('\n}\n', at));
  };
  const rowsOf = (name: string) =>
    [
      ...dict(name).matchAll(
        /"([^"]+)": \{\s*"registry": "([^"]+)",\s*"package": "([^"]+)",[\s\S]*?"licence": "([^"]+)"/g,
      ),
    ].map((m) => `| \`${m[1]}\` | ${m[2]}: \`${m[3]}\` | ${m[4]} |`);
  const weights = rowsOf('SOURCES');
  const wordnet = dict('WORDNET');
  const wnPackage = /"package": "([^"]+)"/.exec(wordnet)![1];
  const wnLicence = /"licence": "([^"]+)"/.exec(wordnet)![1];
  return [
    '# Third-party licences',
    '',
    '<!-- written by tools/docs/licences.ts from package-lock.json and tools/starter/fetch.py; tests/pack.test.ts keeps it current -->',
    '',
    "lvu's own code: see the repository. What it installs with and fetches:",
    '',
    '## Model weights lvu fetches (`lvu models fetch starter`)',
    '',
    '| file | from | licence |',
    '| --- | --- | --- |',
    ...weights,
    `| \`wordnet-hypernyms.json\` (from WordNet's \`data.noun\`, \`index.noun\`) | Debian: \`${wnPackage}\` | ${wnLicence} |`,
    '',
    '## Added by `lvu models fetch detector` (the COCO object detector)',
    '',
    '| file | from | licence |',
    '| --- | --- | --- |',
    ...rowsOf('DETECTOR_SOURCES'),
    '',
    '## Footage lvu fetches (`lvu models fetch footage`, the sample `lvu replay` runs without a FILE)',
    '',
    '| file | from | licence |',
    '| --- | --- | --- |',
    `| \`vtest.avi\` (sha256 \`${SAMPLE.sha256.slice(0, 12)}…\`) | Debian: \`${SAMPLE.package}\` (\`${SAMPLE.member.slice(1)}\`) | ${SAMPLE.licence} (${SAMPLE.licenceSource}) |`,
    '',
    'Models written by `tools/export` with `--random` (and the test fixtures) have random weights: no third-party',
    'licence applies. Checkpoints you pass with `--from-hf` or `--from-longvu` keep their own licences.',
    '',
    `## npm packages installed with the CLI (production dependencies, ${rows.size})`,
    '',
    [...byLicence]
      .sort((a, b) => b[1] - a[1])
      .map(([l, n]) => `${l}: ${n}`)
      .join(' · '),
    '',
    '| package | version | licence | |',
    '| --- | --- | --- | --- |',
    ...[...rows.keys()].sort().map((k) => rows.get(k)!),
    '',
    'Test and benchmark tools (PyTorch, transformers, onnxruntime, Schemathesis, llama-cpp-python, llama.cpp,',
    'nvidia-pytriton and Triton, Apache Kafka, Debian packages) are fetched by the test set-up from their registries',
    'under their own licences and are not installed with the CLI.',
    '',
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  writeFileSync(resolve(root, 'docs/licences.md'), licencesPage());
  process.stdout.write('wrote docs/licences.md\n');
}
