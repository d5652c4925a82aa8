/**
 * Writes docs/reference/configuration.md (every key of the pipeline YAML, from the one schema the engine, the server
 * and `lvu serve` parse with) and docs/reference/http-api.md (every route of the OpenAPI document `lvu serve`
 * serves), so the reference is the code's, never a copy that drifts. tests/docs-reference.test.ts fails when a
 * committed page differs from what this writes.
 *
 *   npx tsx --conditions=source tools/docs/reference.ts          (writes both pages)
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultPlugins } from '@lvu/cli';
import { openApiDocument, pipelineConfigSchema } from '@lvu/server';

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema and OpenAPI documents are untyped JSON
type Json = any;

const cell = (s: unknown) =>
  String(s ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');

function typeOf(s: Json): string {
  if (!s) return '';
  if (s.enum) return s.enum.map((v: unknown) => `\`${v}\``).join(' | ');
  if (s.anyOf || s.oneOf) return (s.anyOf ?? s.oneOf).map(typeOf).filter(Boolean).join(' | ');
  if (s.type === 'array') return `${typeOf(s.items) || 'any'}[]`;
  if (Array.isArray(s.type)) return s.type.join(' | ');
  if (s.type === 'object' && s.additionalProperties && !s.properties) return 'map';
  return s.type ?? '';
}

function bounds(s: Json): string {
  const b: string[] = [];
  if (s.minimum !== undefined) b.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) b.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < 9e15) b.push(`≤ ${s.maximum}`);
  if (s.minItems !== undefined) b.push(`≥ ${s.minItems} items`);
  return b.join(', ');
}

/** One row per key, depth first; objects inside arrays are listed as `key[].sub`. */
function rows(s: Json, path: string, out: string[][]): void {
  const props = s?.properties ?? s?.items?.properties;
  const obj = s?.properties ? s : s?.items;
  if (!props) return;
  const required = new Set<string>(obj.required ?? []);
  for (const [k, v] of Object.entries<Json>(props)) {
    const key = `${path}${path ? '.' : ''}${k}${v.type === 'array' && v.items?.properties ? '[]' : ''}`;
    const dflt = v.default === undefined ? '' : `\`${JSON.stringify(v.default)}\``;
    out.push([
      `\`${key}\``,
      cell(typeOf(v)),
      required.has(k) && v.default === undefined ? 'yes' : '',
      cell(dflt.length > 60 ? '(see the keys below)' : dflt),
      cell([v.description, bounds(v)].filter(Boolean).join(' — ')),
    ]);
    rows(v, key.replace(/\[\]$/, '[]'), out);
  }
}

export function configurationReference(): string {
  const schema = pipelineConfigSchema(defaultPlugins()).jsonSchema();
  const out: string[][] = [];
  rows(schema, '', out);
  return [
    '# Configuration reference',
    '',
    '<!-- written by tools/docs/reference.ts from the pipeline schema; tests/docs-reference.test.ts keeps it current -->',
    '',
    'Every key of a pipeline YAML (`lvu serve --config FILE`), from the schema lvu parses it with. The `engine` keys',
    'are also the options of `Engine.create` and of `lvu replay`/`lvu ingest` flags; a stream (`streams[]`) is also',
    'the body of `POST /v1/streams`. Unknown keys and wrong types are refused with the key named;',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the YAML's own substitution syntax, written out
    '`${env:NAME:-default}` is substituted before parsing; relative paths are relative to the file.',
    '',
    '| key | type | required | default | what it does |',
    '| --- | --- | --- | --- | --- |',
    ...out.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n');
}

export async function httpApiReference(): Promise<string> {
  const plugins = defaultPlugins();
  const doc: Json = await openApiDocument({
    auth: true,
    sources: plugins.sources,
    retention: plugins.retention,
  });
  const lines = [
    '# HTTP API reference',
    '',
    '<!-- written by tools/docs/reference.ts from the OpenAPI document; tests/docs-reference.test.ts keeps it current -->',
    '',
    `\`lvu serve\` serves this API (OpenAPI ${doc.openapi} at \`/openapi.json\`, which Schemathesis checks). With a`,
    'token (`server.token`), every route but `/`, `/healthz`, `/readyz` and `/openapi.json` needs',
    '`Authorization: Bearer TOKEN`. Errors are `{"error": CODE, "message", "field", "hint", "retriable"}`.',
    '',
    '| method | path | what it does | answers |',
    '| --- | --- | --- | --- |',
  ];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of ['get', 'post', 'put', 'delete', 'patch']) {
      const op = item[method];
      if (!op) continue;
      lines.push(
        `| ${method.toUpperCase()} | \`${path}\` | ${cell(op.summary ?? op.description ?? '')} | ${Object.keys(op.responses ?? {}).join(', ')} |`,
      );
    }
  }
  lines.push('', '## Schemas', '');
  for (const [name, s] of Object.entries<Json>(doc.components?.schemas ?? {})) {
    const props = Object.entries<Json>(s.properties ?? {});
    lines.push(`### ${name}`, '');
    if (s.description) lines.push(cell(s.description), '');
    if (props.length) {
      lines.push('| field | type | what it is |', '| --- | --- | --- |');
      for (const [k, v] of props)
        lines.push(`| \`${k}\` | ${cell(typeOf(v) || (v.$ref ?? ''))} | ${cell(v.description ?? '')} |`);
      lines.push('');
    }
  }
  return lines.join('\n');
}

export const REFERENCE_PAGES: Record<string, () => string | Promise<string>> = {
  'docs/reference/configuration.md': configurationReference,
  'docs/reference/http-api.md': httpApiReference,
};

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const root = resolve(import.meta.dirname, '../..');
  for (const [file, render] of Object.entries(REFERENCE_PAGES)) {
    writeFileSync(resolve(root, file), await render());
    process.stdout.write(`wrote ${file}\n`);
  }
}
