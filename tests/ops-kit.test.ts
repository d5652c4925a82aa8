import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import { PrometheusMetrics } from '@lvu/server';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

/**
 * The operations kit in ops/: Prometheus alerting rules (checked and unit-tested by Prometheus's own promtool), a
 * Grafana dashboard (type-checked against Grafana's published dashboard schema) and a systemd unit (checked by
 * systemd-analyze). Every lvu metric they name must be one lvu
 * exports: the names are read from a real /metrics rendering.
 */
const OPS = resolve(repoRoot, 'ops');
const run = (cmd: string, args: string[], cwd = OPS) => spawnSync(cmd, args, { cwd, encoding: 'utf8' });

async function exportedMetricNames(): Promise<Set<string>> {
  const engine = await createEngine({});
  try {
    engine.addStream({ id: 'cam', source: 'lavfi:testsrc2=size=160x90:rate=5:duration=3' });
    await engine.whenDone('cam');
    const text = new PrometheusMetrics(engine).render();
    return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  } finally {
    await engine.close();
  }
}

/** lvu_* names in a text, without a histogram's _bucket/_sum/_count suffix. */
const namesIn = (text: string) =>
  new Set([...text.matchAll(/\blvu_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));

describe('ops kit', () => {
  it('the alerting rules pass promtool check rules and their unit tests (promtool test rules)', () => {
    const check = run('promtool', ['check', 'rules', 'prometheus/lvu-alerts.yml']);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: 8 rules found/);
    const test = run('promtool', ['test', 'rules', 'lvu-alerts.test.yml'], resolve(OPS, 'prometheus'));
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/SUCCESS/);
  });

  it('the rules and the dashboard name only metrics lvu exports', async () => {
    const exported = await exportedMetricNames();
    const rules = namesIn(readFileSync(resolve(OPS, 'prometheus/lvu-alerts.yml'), 'utf8'));
    const dash = JSON.parse(readFileSync(resolve(OPS, 'grafana/lvu-dashboard.json'), 'utf8')) as {
      uid: string;
      schemaVersion: number;
      panels: { id: number; type: string; gridPos: object; targets: { expr: string; refId: string }[] }[];
    };
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const used = new Set([...rules, ...namesIn(exprs.join('\n'))]);
    expect(used.size).toBeGreaterThan(12);
    for (const name of used) expect(exported, name).toContain(name);
    // the dashboard's structure: unique panel ids, a grid position and at least one query each
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    for (const p of dash.panels) {
      expect(p.gridPos).toBeDefined();
      expect(p.targets.length).toBeGreaterThan(0);
    }
  }, 60_000);

  it("the dashboard conforms to Grafana's dashboard schema (@grafana/schema's Dashboard type, generated from Grafana's own schema); a misspelt field fails", () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvu-grafana-'));
    // the schema package resolves from the repository's node_modules
    const check = (name: string, json: string) => {
      const file = resolve(repoRoot, '.cache', `${name}-${process.pid}.ts`);
      writeFileSync(
        file,
        `import type { Dashboard } from '@grafana/schema';\nexport const dashboard: Dashboard = ${json};\n`,
      );
      try {
        return run(
          process.execPath,
          [
            resolve(repoRoot, 'node_modules/typescript/bin/tsc'),
            '--noEmit',
            '--strict',
            '--target',
            'es2022',
            '--module',
            'esnext',
            '--moduleResolution',
            'bundler',
            '--skipLibCheck',
            file,
          ],
          dir,
        );
      } finally {
        rmSync(file, { force: true });
      }
    };
    const json = readFileSync(resolve(OPS, 'grafana/lvu-dashboard.json'), 'utf8');
    const ok = check('grafana-dashboard', json);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    const bad = check('grafana-dashboard-bad', json.replace('"gridPos"', '"gridPosition"'));
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/'"?gridPosition"?' does not exist in type 'Panel/);
  }, 60_000);

  it('the systemd unit passes systemd-analyze verify', () => {
    const r = run('systemd-analyze', ['verify', 'systemd/lvu.service']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
