import { parseArgs } from 'node:util';
import { LvuError } from '@lvu/core';
import { DirSnapshotStore } from '@lvu/engine';
import { KafkajsTransport, KafkaSnapshotStore, parseKafkaUrl } from '@lvu/kafka';
import { createHttpServer } from '@lvu/server';
import { KafkaWorker } from '@lvu/worker';
import { numberArg, portArg } from './number-arg.js';
import { createEngine } from './plugins.js';
import { runUntilSignal, waitingLine } from './progress.js';

export const WORKER_USAGE = `lvu worker --from kafka://HOST:PORT/TOPIC --group G [--models DIR] [--port 8080] [--host 127.0.0.1]
        [--dead-letter TOPIC] [--snapshots DIR|kafka://HOST:PORT/TOPIC] [--broker-timeout-ms 30000]
        [--ask QUESTION [--every SECONDS] [--on-scene-change] [--answers TOPIC]]
        consume SampledFrames published by \`lvu ingest --to\` with a consumer group: one rolling context per stream id
        of the partitions this worker owns, the HTTP API of \`lvu serve\` for them; malformed messages go to
        TOPIC.dead-letter with the reason. --snapshots: checkpoint each context there (a directory, or a compacted
        topic that workers on other machines share) and commit offsets only past what a checkpoint covers, so a
        worker killed and restarted, or a stream moved to another worker, rebuilds the same context. --ask: a
        standing question about every stream this worker owns, asked every SECONDS and/or on scene changes; its
        answers are served at /v1/answers and published (JSON keyed by stream id) to --answers TOPIC. A topic that
        does not exist yet is created (6 partitions); a broker that does not answer is retried with a line per
        attempt, then TRANSPORT_UNAVAILABLE after --broker-timeout-ms`;

/** `lvu worker`'s options (exported so deployment files can be checked against them). */
export const WORKER_OPTIONS = {
  from: { type: 'string' },
  group: { type: 'string' },
  models: { type: 'string' },
  port: { type: 'string', default: '8080' },
  host: { type: 'string', default: '127.0.0.1' },
  'dead-letter': { type: 'string' },
  snapshots: { type: 'string' },
  ask: { type: 'string' },
  every: { type: 'string' },
  'on-scene-change': { type: 'boolean', default: false },
  answers: { type: 'string' },
  'broker-timeout-ms': { type: 'string' },
} as const;

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: WORKER_OPTIONS });
  if (!values.from || !values.group) {
    throw new LvuError('INVALID_ARGUMENT', `usage: ${WORKER_USAGE}`, {
      field: values.from ? 'group' : 'from',
    });
  }
  const { brokers, topic } = parseKafkaUrl(values.from);
  const port = portArg(values.port);
  if ((values.every || values['on-scene-change'] || values.answers) && !values.ask) {
    throw new LvuError(
      'INVALID_ARGUMENT',
      '--every, --on-scene-change and --answers go with --ask QUESTION',
      {
        field: 'ask',
      },
    );
  }
  const standing = values.ask
    ? [
        {
          question: values.ask,
          onSceneChange: values['on-scene-change'],
          ...(values.every || !values['on-scene-change']
            ? { everySeconds: numberArg(values.every ?? '60', 'every', 0.1)! }
            : {}),
        },
      ]
    : [];
  const transport = new KafkajsTransport(brokers, `lvu-worker-${values.group}`);
  await transport.waitForBrokers({
    onRetry: waitingLine,
    timeoutMs: numberArg(values['broker-timeout-ms'], 'broker-timeout-ms', 0) ?? 30_000,
  });
  // the composition root's plug-ins (sources, model kits, backends, retention policies), as lvu serve has
  const engine = await createEngine({ models: values.models });
  const worker = new KafkaWorker(engine, transport, {
    topic,
    group: values.group,
    ...(values['dead-letter'] ? { deadLetterTopic: values['dead-letter'] } : {}),
    ...(values.snapshots ? { snapshots: snapshotStore(values.snapshots, transport) } : {}),
    standing,
    ...(values.answers ? { answersTopic: values.answers } : {}),
  });
  const app = await createHttpServer(engine, {
    host: values.host,
    token: process.env.LVU_TOKEN || undefined,
    // a stream another worker owns answered from its latest checkpoint (when the snapshot store is shared), the
    // standing answers, and the worker's message counters with each stream's status and on /metrics
    ...worker.httpOptions(),
  });
  try {
    await worker.start();
    await app.listen({ host: values.host, port });
  } catch (err) {
    await worker.close().catch(() => {});
    await transport.close();
    await engine.close();
    throw err;
  }
  if (worker.createdTopic)
    process.stderr.write(`lvu worker: created topic ${topic} (6 partitions): no edge had published yet\n`);
  const addr = app.server.address();
  process.stdout.write(
    `lvu worker ${values.group} on ${values.from}, serving http://${values.host}:${typeof addr === 'object' && addr ? addr.port : port}/\n`,
  );
  await runUntilSignal(() => {
    const s = worker.stats;
    return `${s.messages} messages, ${s.frames} frames, ${s.streams} streams, ${s.duplicates} duplicates skipped, ${s.deadLetters} dead-lettered${values.answers ? `, ${s.answers} answers published` : ''}`;
  });
  await worker.close();
  await app.close();
  await transport.close();
  await engine.close();
  return 0;
}

function snapshotStore(where: string, frames: KafkajsTransport) {
  if (!where.startsWith('kafka://')) return new DirSnapshotStore(where);
  const { brokers, topic } = parseKafkaUrl(where);
  const same = brokers.join(',') === frames.brokers.join(',');
  return new KafkaSnapshotStore(same ? frames : new KafkajsTransport(brokers, 'lvu-snapshots'), topic);
}
