import { decodeWindow, encodeWindow, type FeatureWindow } from '@lvu/arrow';
import { LvuError, type SampledFrame } from '@lvu/core';
import { decodeFrame, encodeFrame, type IncomingMessage, type OutgoingMessage } from '@lvu/kafka';

/**
 * lvu's two Kafka wire formats, in one place. Every message is keyed by its stream id and carries the publishing
 * edge's epoch (`lvu-epoch`):
 * - a sampled frame: msgpack (`encodeFrame`: seq, times, raw RGB at each size), no content type;
 * - a feature window (`lvu ingest --features`): the kept frames of one closed window as an Arrow IPC stream,
 *   content type `FEATURE_WINDOW_TYPE`;
 * - the end of an edge session: an empty value with `lvu-end` = its last seq.
 */
export const FEATURE_WINDOW_TYPE = 'application/vnd.apache.arrow.stream; lvu=window';

/** The header that carries the publishing edge's epoch (its start time in ms; see EdgeSessions). */
export const EPOCH_HEADER = 'lvu-epoch';

/**
 * The header of an edge's last message (empty value; the header holds the session's last seq): its session ended,
 * so the stream's open window closes as at the end of a replay. The stream goes on if an edge publishes again.
 */
export const SESSION_END_HEADER = 'lvu-end';

export function frameMessage(f: SampledFrame, epoch: number): OutgoingMessage {
  return { key: f.streamId, value: encodeFrame(f), headers: { [EPOCH_HEADER]: String(epoch) } };
}

export function windowMessage(
  w: FeatureWindow,
  epoch: number,
  precision: 'float32' | 'float16' = 'float32',
): OutgoingMessage {
  return {
    key: w.streamId,
    value: encodeWindow(w, precision),
    headers: { 'content-type': FEATURE_WINDOW_TYPE, [EPOCH_HEADER]: String(epoch) },
  };
}

export function sessionEndMessage(streamId: string, lastSeq: number, epoch: number): OutgoingMessage {
  return {
    key: streamId,
    value: new Uint8Array(0),
    headers: { [EPOCH_HEADER]: String(epoch), [SESSION_END_HEADER]: String(lastSeq) },
  };
}

export type WireMessage =
  | { kind: 'frame'; epoch: number; streamId: string; f: SampledFrame }
  | { kind: 'window'; epoch: number; streamId: string; w: FeatureWindow }
  | { kind: 'end'; epoch: number; streamId: string };

/**
 * What a message is, or MALFORMED_MESSAGE saying why not (a bad epoch, over `maxBytes`, undecodable, a key that is
 * not the message's stream). Messages without an epoch are epoch 0 (older edges).
 */
export function decodeMessage(m: IncomingMessage, maxBytes: number): WireMessage {
  let epoch = 0;
  const e = m.headers[EPOCH_HEADER];
  if (e !== undefined) {
    epoch = Number(e);
    if (!/^\d{1,16}$/.test(e) || !Number.isSafeInteger(epoch)) {
      throw new LvuError(
        'MALFORMED_MESSAGE',
        `header ${EPOCH_HEADER} "${e.slice(0, 40)}" is not a whole number`,
        {
          field: EPOCH_HEADER,
        },
      );
    }
  }
  if (m.value.byteLength > maxBytes) {
    throw new LvuError('MALFORMED_MESSAGE', `message of ${m.value.byteLength} bytes is over the limit`, {
      field: 'value',
    });
  }
  if (m.headers[SESSION_END_HEADER] !== undefined && m.key) return { kind: 'end', epoch, streamId: m.key };
  const msg: WireMessage =
    m.headers['content-type'] === FEATURE_WINDOW_TYPE
      ? (() => {
          const w = decodeWindow(m.value);
          return { kind: 'window', epoch, streamId: w.streamId, w } as const;
        })()
      : (() => {
          const f = decodeFrame(m.value);
          return { kind: 'frame', epoch, streamId: f.streamId, f } as const;
        })();
  if (m.key !== null && m.key !== msg.streamId) {
    throw new LvuError(
      'MALFORMED_MESSAGE',
      `key ${m.key} differs from the message's stream ${msg.streamId}`,
      {
        field: 'key',
      },
    );
  }
  return msg;
}
