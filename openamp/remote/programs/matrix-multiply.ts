import type { RemoteProgram, RemoteProgramContext } from '../program.js';
import { serveDemoChannel } from './demo-channel.js';

/** open-amp's matrix_multiplyd: 6x6 matrices of u32, `{u32 size; u32 elements[6][6]}`. */
export const MATRIX_MAX_SIZE = 6;
export const MATRIX_BYTES = 4 + 4 * MATRIX_MAX_SIZE * MATRIX_MAX_SIZE;
/** A request is two matrices back to back. */
export const MATRIX_REQUEST_BYTES = 2 * MATRIX_BYTES;

export interface Matrix {
  size: number;
  /** Row-major, MATRIX_MAX_SIZE x MATRIX_MAX_SIZE, u32. */
  elements: Uint32Array;
}

export function decodeMatrix(data: Uint8Array, offset: number): Matrix {
  const view = new DataView(data.buffer, data.byteOffset + offset, MATRIX_BYTES);
  const elements = new Uint32Array(MATRIX_MAX_SIZE * MATRIX_MAX_SIZE);
  for (let i = 0; i < elements.length; i++) elements[i] = view.getUint32(4 + 4 * i, true);
  return { size: view.getUint32(0, true), elements };
}

export function encodeMatrix(matrix: Matrix): Uint8Array {
  const out = new Uint8Array(MATRIX_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, matrix.size, true);
  for (let i = 0; i < MATRIX_MAX_SIZE * MATRIX_MAX_SIZE; i++) view.setUint32(4 + 4 * i, matrix.elements[i] ?? 0, true);
  return out;
}

/** The C demo's product: u32 arithmetic that wraps, over the first `size` rows and columns. */
export function multiplyMatrices(m: Matrix, n: Matrix): Matrix {
  const size = m.size;
  const elements = new Uint32Array(MATRIX_MAX_SIZE * MATRIX_MAX_SIZE);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < n.size; j++) {
      let sum = 0;
      for (let k = 0; k < size; k++) {
        sum = (sum + Math.imul(m.elements[i * MATRIX_MAX_SIZE + k]!, n.elements[k * MATRIX_MAX_SIZE + j]!)) >>> 0;
      }
      elements[i * MATRIX_MAX_SIZE + j] = sum;
    }
  }
  return { size, elements };
}

/**
 * Replies to each 296-byte request with the 148-byte product. A request of another length or
 * with a size above 6 (which would overrun the C demo's arrays) is dropped with a trace line.
 */
export const matrixMultiplyProgram: RemoteProgram = {
  name: 'matrix-multiply',
  start(context: RemoteProgramContext): void {
    serveDemoChannel(context, {
      program: 'matrix-multiply',
      replies: 'product(s)',
      answer: (message) => {
        if (message.data.length !== MATRIX_REQUEST_BYTES) {
          context.log(`matrix-multiply: dropped a ${message.data.length}-byte message from ${message.src} (want ${MATRIX_REQUEST_BYTES})`);
          return undefined;
        }
        const m = decodeMatrix(message.data, 0);
        const n = decodeMatrix(message.data, MATRIX_BYTES);
        if (m.size > MATRIX_MAX_SIZE || n.size > MATRIX_MAX_SIZE) {
          context.log(`matrix-multiply: dropped matrices of size ${m.size} and ${n.size} (at most ${MATRIX_MAX_SIZE})`);
          return undefined;
        }
        return encodeMatrix(multiplyMatrices(m, n));
      },
    });
  },
};
