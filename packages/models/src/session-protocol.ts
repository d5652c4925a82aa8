/** How the inference thread says that an execution provider is not there (the pool turns it into INVALID_CONFIG). */
export const EP_REFUSED = 'execution provider: ';

export type TensorType = 'float32' | 'int64' | 'int32' | 'float16';

/** A tensor crossing the thread boundary: data is transferred, not copied. */
export interface WireTensor {
  type: TensorType;
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint16Array;
}

export type SessionRequest =
  | {
      id: number;
      op: 'load';
      /** `<pool>:<role>`: pools share one worker and keep their sessions apart. */
      key: string;
      path: string;
      intraOpNumThreads: number;
      interOpNumThreads: number;
      allowSpinning: boolean;
      executionProviders: string[];
    }
  | { id: number; op: 'run'; key: string; feeds: Record<string, WireTensor> }
  | { id: number; op: 'close'; prefix: string };

export interface ValueInfo {
  name: string;
  type: string | null;
  shape: (number | string)[];
}

export type SessionResponse =
  | { id: number; ok: true; op: 'load'; inputs: ValueInfo[]; outputs: ValueInfo[]; ms: number }
  | { id: number; ok: true; op: 'run'; outputs: Record<string, WireTensor>; ms: number }
  | { id: number; ok: true; op: 'close' }
  | { id: number; ok: false; message: string };
