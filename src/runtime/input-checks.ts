/**
 * Checks of what library callers pass to the model (`computeLrp`, `computeLrpBatch`,
 * `predict`): wrong types get a `TypeError` that names the argument and what to pass instead,
 * before anything is allocated from a wrong length. Browser-safe: no Node imports.
 */

/** How a value is described in messages: `null`, `string "5"`, `Float64Array`, `array of 3 numbers`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`;
  if (typeof value !== 'object') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  return value.constructor?.name && value.constructor !== Object ? value.constructor.name : 'an object';
}

/**
 * The argument must be a Float32Array, an array of Float32Arrays, or `{ data, shape }`.
 *
 * @throws TypeError naming `what` (e.g. `computeLrp: input`).
 */
export function checkInputKind(input: unknown, what: string): void {
  const expected = 'a Float32Array (one preprocessed image), an array of them, or { data: Float32Array, shape }';
  if (input === null || typeof input !== 'object') throw new TypeError(`${what} must be ${expected}, got ${describeValue(input)}`);
  if (!Array.isArray(input)) return;
  if (input.length > 0 && input.every((v) => typeof v === 'number')) {
    throw new TypeError(
      `${what} is a plain array of ${input.length} numbers: pass a Float32Array (e.g. Float32Array.from(values)); ` +
        'an array is read as a batch of images',
    );
  }
  for (let i = 0; i < input.length; i++) {
    // A sparse array's hole would otherwise be explained as an all-zero image.
    if (!(i in input)) throw new TypeError(`${what}[${i}] is missing (a hole in the array)`);
  }
}

/**
 * One preprocessed image (or a batch's flat data): a Float32Array of `length` finite values.
 *
 * @throws TypeError for another type; Error for a wrong length or a non-finite value.
 */
export function checkImage(data: unknown, length: number, what: string, shape: readonly number[], layout = 'NHWC, preprocessed'): Float32Array {
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`${what} must be a Float32Array (${layout}), got ${describeValue(data)}`);
  }
  if (data.length !== length) {
    throw new Error(`${what} has ${data.length} values; expected ${length} (${shape.join(' × ')}, ${layout})`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new Error(`${what} contains ${data[i]} at index ${i}: inputs must be finite`);
  }
  return data;
}

/**
 * A class index: an integer in 0..classes-1, or `undefined` (the predicted class, -1 for the graph).
 *
 * @throws TypeError for a non-number (`"5"`), RangeError for a number out of range.
 */
export function checkClassIndex(classIndex: unknown, classes: number, image: number): number {
  if (classIndex === undefined) return -1;
  if (typeof classIndex !== 'number') {
    throw new TypeError(`class index (image ${image}) must be an integer number, got ${describeValue(classIndex)}`);
  }
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classes) {
    throw new RangeError(`class index ${classIndex} (image ${image}) is out of range: the model has classes 0..${classes - 1}`);
  }
  return classIndex;
}

/** `classIndices` must be an array (or absent). */
export function checkClassIndices(classIndices: unknown): readonly unknown[] {
  if (classIndices === undefined) return [];
  if (!Array.isArray(classIndices)) throw new TypeError(`classIndices must be an array (one class index or undefined per image), got ${describeValue(classIndices)}`);
  return classIndices;
}

/**
 * Default largest model input, in pixels (height × width): 4096², far above the inputs of
 * image classifiers (224² to 800²) and below what one image's activations could hold.
 */
export const DEFAULT_MAX_INPUT_PIXELS = 4096 * 4096;

/** What a model file says about its input, whatever the importer. */
export interface InputSize {
  height: number;
  width: number;
  channels: number;
}

/**
 * Refuses a model whose fixed input is larger than `maxInputPixels` (a file can declare any
 * size; its activations grow with it), before anything is compiled.
 *
 * @throws RangeError `<file>: the model's input is H × W × C (N megapixels), over the limit of M
 *   megapixels (maxInputPixels)`; RangeError for a `maxInputPixels` that is not a number ≥ 1.
 */
export function checkInputSize(input: InputSize, maxInputPixels: number, file: string): void {
  if (typeof maxInputPixels !== 'number' || !(maxInputPixels >= 1)) {
    throw new RangeError(`maxInputPixels must be a number ≥ 1, got ${describeValue(maxInputPixels)}`);
  }
  const { height, width, channels } = input;
  const valid = [height, width, channels].every((n) => Number.isSafeInteger(n) && n >= 1);
  if (!valid) throw new RangeError(`${file}: the model's input is ${height} × ${width} × ${channels}: every dimension must be a positive integer`);
  const pixels = height * width;
  if (pixels > maxInputPixels) {
    const mp = (n: number): string => `${Number((n / 1e6).toPrecision(3))} megapixels`;
    throw new RangeError(`${file}: the model's input is ${height} × ${width} × ${channels} (${mp(pixels)}), over the limit of ${mp(maxInputPixels)} (maxInputPixels, --max-input-pixels)`);
  }
}

/** Most onnxruntime threads accepted for one op (far beyond any machine's cores). */
export const MAX_INTRA_OP_THREADS = 1024;
const GRAPH_OPTIMIZATIONS = ['disabled', 'basic', 'extended', 'all'];

/**
 * Checks the `session` option: `intraOpThreads` an integer in 1..1024, `graphOptimization` one
 * of onnxruntime's levels.
 *
 * @throws TypeError / RangeError naming the option.
 */
export function checkSessionOptions(session: unknown): void {
  if (session === undefined) return;
  if (session === null || typeof session !== 'object' || Array.isArray(session)) throw new TypeError(`session must be an object ({ intraOpThreads, graphOptimization }), got ${describeValue(session)}`);
  const { intraOpThreads, graphOptimization } = session as Record<string, unknown>;
  if (intraOpThreads !== undefined && !(typeof intraOpThreads === 'number' && Number.isInteger(intraOpThreads) && intraOpThreads >= 1 && intraOpThreads <= MAX_INTRA_OP_THREADS)) {
    throw new RangeError(`session.intraOpThreads must be an integer in 1..${MAX_INTRA_OP_THREADS}, got ${describeValue(intraOpThreads)}`);
  }
  if (graphOptimization !== undefined && !GRAPH_OPTIMIZATIONS.includes(graphOptimization as string)) {
    throw new RangeError(`session.graphOptimization must be one of ${GRAPH_OPTIMIZATIONS.join(', ')}, got ${describeValue(graphOptimization)}`);
  }
}
