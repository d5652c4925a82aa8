import { crc32 } from 'node:zlib';
import { toHalf } from '@lvu/arrow';

/** The dtypes a prompt-embeds server accepts (vLLM asserts float32, bfloat16 or float16). */
export type WireDtype = 'float32' | 'float16' | 'bfloat16';

/** Bytes per element of each wire dtype. */
export const WIRE_BYTES: Record<WireDtype, number> = { float32: 4, float16: 2, bfloat16: 2 };

const STORAGE: Record<WireDtype, string> = {
  float32: 'FloatStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
};

/** float32 → bfloat16 bits, rounding to nearest, ties to even, as PyTorch's `.to(torch.bfloat16)` does. */
export function toBfloat16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i]!;
    if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) out[i] = ((b >>> 16) & 0x8000) | 0x7fc0;
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** The tensor's values in the wire dtype, little-endian (the machines lvu runs on are little-endian). */
export function wireBytes(values: Float32Array, dtype: WireDtype): Uint8Array {
  if (dtype === 'float32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const h = dtype === 'float16' ? toHalf(values) : toBfloat16(values);
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

/**
 * Pickle (protocol 2) of `torch._utils._rebuild_tensor_v2(storage, 0, (rows, cols), (cols, 1), False,
 * OrderedDict())` with the storage as persistent id `('storage', torch.<T>Storage, '0', 'cpu', numel)`: exactly the
 * globals `torch.load(weights_only=True)` allows, and what `torch.save` writes for a contiguous 2-D tensor.
 */
function tensorPickle(rows: number, cols: number, dtype: WireDtype): Uint8Array {
  const out: number[] = [0x80, 2];
  const ascii = (s: string) => {
    for (const c of Buffer.from(s, 'utf8')) out.push(c);
  };
  const global = (module: string, name: string) => {
    out.push(0x63); // GLOBAL
    ascii(`${module}\n${name}\n`);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    out.push(0x58, b.length & 0xff, (b.length >>> 8) & 0xff, (b.length >>> 16) & 0xff, b.length >>> 24); // BINUNICODE
    for (const c of b) out.push(c);
  };
  const int = (n: number) => {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`tensor dimension ${n}`);
    if (n < 256)
      out.push(0x4b, n); // BININT1
    else out.push(0x4a, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24); // BININT
  };
  global('torch._utils', '_rebuild_tensor_v2');
  out.push(0x28); // MARK (the arguments)
  out.push(0x28); // MARK (the persistent id)
  str('storage');
  global('torch', STORAGE[dtype]);
  str('0');
  str('cpu');
  int(rows * cols);
  out.push(0x74, 0x51); // TUPLE, BINPERSID
  int(0); // storage offset
  int(rows);
  int(cols);
  out.push(0x86); // TUPLE2: size
  int(cols);
  int(1);
  out.push(0x86); // TUPLE2: stride
  out.push(0x89); // NEWFALSE: requires_grad
  global('collections', 'OrderedDict');
  out.push(0x29, 0x52); // EMPTY_TUPLE, REDUCE: OrderedDict()
  out.push(0x74, 0x52, 0x2e); // TUPLE, REDUCE, STOP
  return Uint8Array.from(out);
}

/**
 * A zip archive of stored (uncompressed) records as PyTorch's writer lays them out: each record's data starts on a
 * 64-byte boundary (the local header's extra field pads it, as `torch.save` does so that `mmap=True` loads work).
 */
function zipStored(records: [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of records) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data) >>> 0;
    const base = 30 + nameBytes.length + 4;
    const pad = (64 - ((offset + base) % 64)) % 64;
    const local = Buffer.alloc(base + pad);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0, 10); // time, date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(4 + pad, 28);
    nameBytes.copy(local, 30);
    local.writeUInt16LE(0x4246, 30 + nameBytes.length); // 'FB': PyTorch's padding field
    local.writeUInt16LE(pad, 32 + nameBytes.length);
    local.fill(0x5a, base); // 'Z'
    const dir = Buffer.alloc(46 + nameBytes.length);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4); // version made by
    dir.writeUInt16LE(20, 6);
    dir.writeUInt32LE(0, 8); // flags, method
    dir.writeUInt32LE(0, 12); // time, date
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(nameBytes.length, 28);
    dir.writeUInt32LE(offset, 42);
    nameBytes.copy(dir, 46);
    parts.push(local, data);
    central.push(dir);
    offset += local.length + data.length;
  }
  const dirSize = central.reduce((s, d) => s + d.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(dirSize, 12);
  end.writeUInt32LE(offset, 16);
  if (offset + dirSize > 0xffffffff) throw new RangeError('a tensor file over 4 GiB needs zip64');
  return Buffer.concat([...parts, ...central, end]);
}

/**
 * A 2-D tensor (rows × cols, row-major float32 values) as the bytes `torch.save(tensor.to(dtype))` writes: the zip
 * archive `torch.load(weights_only=True)` reads back to a `torch.Tensor` of that dtype and shape. This is the wire
 * format of vLLM's, NIM's and Dynamo's `prompt_embeds` (base64 of these bytes).
 */
export function torchSaveTensor(
  values: Float32Array,
  rows: number,
  cols: number,
  dtype: WireDtype,
): Uint8Array {
  if (values.length !== rows * cols) {
    throw new RangeError(`${values.length} values for a ${rows}×${cols} tensor`);
  }
  return zipStored([
    ['archive/data.pkl', tensorPickle(rows, cols, dtype)],
    ['archive/byteorder', Buffer.from('little')],
    ['archive/data/0', wireBytes(values, dtype)],
    ['archive/version', Buffer.from('3\n')],
  ]);
}
