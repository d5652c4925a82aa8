import { LvuError } from '@lvu/core';
import {
  Binary,
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  Int32,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  type Table,
  tableFromIPC,
  Utf8,
  type Vector,
} from 'apache-arrow';
import { fromHalf, toHalf } from './half.js';

/** One kept frame as the write path hands it to a ContextStore (and as a FeatureBatch row). */
export interface FeatureRow {
  streamId: string;
  seq: number;
  ptsMs: number;
  wallMs: number;
  /** Source frame size (height, width). */
  frameH: number;
  frameW: number;
  /** Projected high-resolution grid (highSide² × dim), row-major, before unpad and newlines. */
  hi: Float32Array;
  /** Projected low-resolution grid (lowSide² × dim). */
  lo: Float32Array;
  /** A small RGB24 thumbnail (thumbSide² × 3) for timelines; may be empty. */
  thumb: Uint8Array;
  /** JPEG images of the frame for image-input LLM backends (large, small); empty when not kept. */
  jpeg?: Uint8Array;
  jpegSmall?: Uint8Array;
  /**
   * Objects a detector found in the frame (absent without one): 6 floats each — class index, score, and the box's
   * x, y, width, height in 0..1 of the square image the encoders saw — best first.
   */
  objects?: Float32Array;
}

export interface FeatureGeometry {
  /** highSide² × dim */
  hiValues: number;
  /** lowSide² × dim */
  loValues: number;
  /**
   * How the grids are stored: float32 (default; reads are zero-copy views) or float16 (half the bytes on the wire;
   * reads convert to float32, and values round to 11 significant bits).
   */
  precision?: 'float32' | 'float16';
}

/**
 * The Arrow schema of a FeatureBatch: one row per kept frame; the token grids are fixed-size float32 lists so a
 * batch read from IPC hands out zero-copy Float32Array views. `metadata` records the geometry.
 */
export function featureSchema(g: FeatureGeometry, metadata: Record<string, string> = {}): Schema {
  const element = () => (g.precision === 'float16' ? new Float16() : new Float32());
  return new Schema(
    [
      new Field('streamId', new Utf8(), false),
      new Field('seq', new Float64(), false),
      new Field('ptsMs', new Float64(), false),
      new Field('wallMs', new Float64(), false),
      new Field('frameH', new Int32(), false),
      new Field('frameW', new Int32(), false),
      new Field('hi', new FixedSizeList(g.hiValues, new Field('v', element(), false)), false),
      new Field('lo', new FixedSizeList(g.loValues, new Field('v', element(), false)), false),
      new Field('thumb', new Binary(), false),
      new Field('jpeg', new Binary(), false),
      new Field('jpegSmall', new Binary(), false),
      // null: no detector ran; empty: it found nothing
      new Field('objects', new Binary(), true),
    ],
    new Map(Object.entries({ format: 'lvu-features/1', ...metadata })),
  );
}

const EMPTY = new Uint8Array(0);

function utf8Data(values: string[]) {
  const enc = new TextEncoder();
  const parts = values.map((v) => enc.encode(v));
  return varBinary(new Utf8(), parts);
}

/** A variable-length column; a null part (only in a nullable column) is a null value. */
function varBinary(type: Utf8 | Binary, parts: (Uint8Array | null)[]) {
  const offsets = new Int32Array(parts.length + 1);
  for (let i = 0; i < parts.length; i++) offsets[i + 1] = offsets[i]! + (parts[i]?.length ?? 0);
  const data = new Uint8Array(offsets[parts.length]!);
  const valid = new Uint8Array(Math.ceil(parts.length / 8));
  let nullCount = 0;
  parts.forEach((p, i) => {
    if (p) {
      data.set(p, offsets[i]!);
      valid[i >> 3] = valid[i >> 3]! | (1 << (i & 7));
    } else nullCount++;
  });
  const props = {
    length: parts.length,
    nullCount,
    valueOffsets: offsets,
    data,
    ...(nullCount ? { nullBitmap: valid } : {}),
  };
  return type instanceof Utf8 ? makeData({ type, ...props }) : makeData({ type, ...props });
}

function fixedList(type: FixedSizeList<Float32 | Float16>, rows: Float32Array[]) {
  const n = type.listSize;
  const half = type.children[0]!.type instanceof Float16;
  const flat = half ? new Uint16Array(rows.length * n) : new Float32Array(rows.length * n);
  rows.forEach((r, i) => {
    if (r.length !== n) {
      throw new LvuError('SHAPE_MISMATCH', `a feature row has ${r.length} values, the batch ${n}`, {
        field: type.children[0]!.name,
      });
    }
    if (half) toHalf(r, flat as Uint16Array, i * n);
    else (flat as Float32Array).set(r, i * n);
  });
  const child = half
    ? makeData({ type: new Float16(), length: flat.length, nullCount: 0, data: flat as Uint16Array })
    : makeData({ type: new Float32(), length: flat.length, nullCount: 0, data: flat as Float32Array });
  return makeData({ type, length: rows.length, nullCount: 0, child });
}

/** Rows → one Arrow record batch (the tensors are copied once, into contiguous columns). */
export function buildFeatureBatch(rows: readonly FeatureRow[], schema: Schema): RecordBatch {
  const col = <K extends keyof FeatureRow>(k: K) => rows.map((r) => r[k]);
  const f = (name: string) => schema.fields.find((x) => x.name === name)!.type;
  const children = [
    utf8Data(col('streamId')),
    makeData({ type: new Float64(), length: rows.length, nullCount: 0, data: Float64Array.from(col('seq')) }),
    makeData({
      type: new Float64(),
      length: rows.length,
      nullCount: 0,
      data: Float64Array.from(col('ptsMs')),
    }),
    makeData({
      type: new Float64(),
      length: rows.length,
      nullCount: 0,
      data: Float64Array.from(col('wallMs')),
    }),
    makeData({ type: new Int32(), length: rows.length, nullCount: 0, data: Int32Array.from(col('frameH')) }),
    makeData({ type: new Int32(), length: rows.length, nullCount: 0, data: Int32Array.from(col('frameW')) }),
    fixedList(f('hi') as FixedSizeList<Float32 | Float16>, col('hi')),
    fixedList(f('lo') as FixedSizeList<Float32 | Float16>, col('lo')),
    varBinary(new Binary(), col('thumb')),
    varBinary(
      new Binary(),
      rows.map((r) => r.jpeg ?? EMPTY),
    ),
    varBinary(
      new Binary(),
      rows.map((r) => r.jpegSmall ?? EMPTY),
    ),
    varBinary(
      new Binary(),
      rows.map((r) =>
        r.objects ? new Uint8Array(r.objects.buffer, r.objects.byteOffset, r.objects.byteLength) : null,
      ),
    ),
  ];
  const struct = makeData({
    type: new Struct(schema.fields),
    length: rows.length,
    nullCount: 0,
    children,
  });
  return new RecordBatch(schema, struct);
}

/** A batch's rows with zero-copy views into its columns (the views share the batch's, e.g. the IPC file's, memory). */
export function featureRows(batch: RecordBatch): FeatureRow[] {
  const get = (name: string) => {
    const c = batch.getChild(name);
    if (!c) {
      throw new LvuError('MALFORMED_MESSAGE', `feature batch has no column ${name}`, { field: name });
    }
    return c;
  };
  const flat = (v: Vector, name: string): [Float32Array, number] => {
    const d = v.data[0]!;
    const n = (d.type as FixedSizeList).listSize;
    const values = d.children[0]!.values as Float32Array | Uint16Array;
    if (values instanceof Uint16Array) {
      // float16 grids (the only 16-bit column of the schema)
      return [fromHalf(values.subarray(d.offset * n, (d.offset + d.length) * n)), n]; // converted: one copy
    }
    if (!(values instanceof Float32Array)) {
      throw new LvuError('MALFORMED_MESSAGE', `feature column ${name} is not float32 or float16`, {
        field: name,
      });
    }
    return [values.subarray(d.offset * n), n];
  };
  const [hi, hn] = flat(get('hi'), 'hi');
  const [lo, ln] = flat(get('lo'), 'lo');
  const ids = get('streamId');
  const seq = get('seq');
  const pts = get('ptsMs');
  const wall = get('wallMs');
  const fh = get('frameH');
  const fw = get('frameW');
  const thumbs = get('thumb');
  const jpegs = batch.getChild('jpeg');
  const smalls = batch.getChild('jpegSmall');
  // absent from batches written before detectors (and by writers without one)
  const objects = batch.getChild('objects');
  const out: FeatureRow[] = [];
  for (let i = 0; i < batch.numRows; i++) {
    out.push({
      streamId: ids.get(i) as string,
      seq: seq.get(i) as number,
      ptsMs: pts.get(i) as number,
      wallMs: wall.get(i) as number,
      frameH: fh.get(i) as number,
      frameW: fw.get(i) as number,
      hi: hi.subarray(i * hn, (i + 1) * hn),
      lo: lo.subarray(i * ln, (i + 1) * ln),
      thumb: (thumbs.get(i) as Uint8Array | null) ?? EMPTY,
      ...(jpegs?.get(i)?.length ? { jpeg: jpegs.get(i) as Uint8Array } : {}),
      ...(smalls?.get(i)?.length ? { jpegSmall: smalls.get(i) as Uint8Array } : {}),
      ...(objects?.isValid(i) ? { objects: objectsOf(objects.get(i) as Uint8Array) } : {}),
    });
  }
  return out;
}

/** A row's objects column → floats (copied: a Binary value need not be 4-byte aligned); a malformed length refused. */
function objectsOf(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 24 !== 0) {
    throw new LvuError(
      'MALFORMED_MESSAGE',
      `an objects value of ${bytes.byteLength} bytes is not 6 floats per object`,
      {
        field: 'objects',
      },
    );
  }
  return new Float32Array(bytes.slice().buffer);
}

/** Record batches → Arrow IPC stream bytes. */
export function toIpc(batches: readonly RecordBatch[], schema: Schema): Uint8Array {
  const w = new RecordBatchStreamWriter();
  w.reset(undefined, schema);
  for (const b of batches) w.write(b);
  w.finish();
  return w.toUint8Array(true);
}

/** Arrow IPC stream (or file) bytes → table; its columns are views into `bytes`. */
export function fromIpc(bytes: Uint8Array): Table {
  try {
    return tableFromIPC(bytes);
  } catch (err) {
    throw new LvuError('MALFORMED_MESSAGE', `not an Arrow IPC stream: ${(err as Error).message}`, {
      field: 'ipc',
      cause: err,
    });
  }
}
