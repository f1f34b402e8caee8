/**
 * Decoding of binary traits and message buffers.
 *
 * The kernel packs arrays little-endian (numpy `<i4` / `<f4`); ipywidgets hands them to the
 * browser as `DataView`s (sometimes `ArrayBuffer`s or typed arrays, depending on the host).
 * Views onto the same memory are used when aligned, a copy otherwise.
 */

/** The bytes of a binary value as [buffer, byteOffset, byteLength]; null for anything else. */
function parts(x: unknown): [ArrayBufferLike, number, number] | null {
  if (x instanceof ArrayBuffer) return [x, 0, x.byteLength];
  if (ArrayBuffer.isView(x)) return [x.buffer, x.byteOffset, x.byteLength];
  // Some hosts (SharedArrayBuffer, other realms) fail instanceof: duck-type.
  if (x && typeof x === "object" && "byteLength" in x && "slice" in x && !("buffer" in x)) {
    const ab = x as ArrayBuffer;
    return [ab, 0, ab.byteLength];
  }
  return null;
}

function decode<T extends Int32Array | Float32Array | Uint8Array>(
  x: unknown,
  Ctor: { new (b: ArrayBufferLike, off: number, len: number): T; new (len: number): T; BYTES_PER_ELEMENT: number },
  expected?: number,
): T {
  const p = parts(x);
  if (p === null) {
    if (x === null || x === undefined) return new Ctor(0);
    throw new TypeError(`expected binary data, got ${typeof x}`);
  }
  const [buf, off, len] = p;
  if (len % Ctor.BYTES_PER_ELEMENT !== 0) {
    throw new RangeError(`byte length ${len} is not a multiple of ${Ctor.BYTES_PER_ELEMENT}`);
  }
  const count = len / Ctor.BYTES_PER_ELEMENT;
  if (expected !== undefined && count !== expected) {
    throw new RangeError(`expected ${expected} values, got ${count}`);
  }
  if (off % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(buf, off, count);
  const copy = new Uint8Array(len);
  copy.set(new Uint8Array(buf, off, len));
  return new Ctor(copy.buffer, 0, count);
}

/** int32 values from a DataView / ArrayBuffer / typed array (empty for null). */
export function toInt32(x: unknown, expected?: number): Int32Array {
  return decode(x, Int32Array, expected);
}

/** float32 values from a DataView / ArrayBuffer / typed array (empty for null). */
export function toFloat32(x: unknown, expected?: number): Float32Array {
  return decode(x, Float32Array, expected);
}

/** uint8 values from a DataView / ArrayBuffer / typed array (empty for null). */
export function toUint8(x: unknown, expected?: number): Uint8Array {
  return decode(x, Uint8Array, expected);
}
