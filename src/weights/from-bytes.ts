/**
 * A model file's bytes → the model graph and its weights, whatever the platform: ONNX files
 * through the importer, Keras HDF5 files through a reader passed in (h5wasm's Node or browser
 * build). The browser entry uses it; the Node entry reads paths itself and binds alike.
 */
import type { ModelGraph, ModelWeights } from '../graph/graph.js';
import { layersToGraph } from '../import/keras.js';
import { importOnnx } from '../import/onnx.js';
import { checkInputChanges, inputSize, type InputDescription } from '../model/input.js';
import { buildResNet, kerasResNetSpec } from '../model/resnet.js';
import { bindWeights, checkKerasShapes, inferKerasResNet, type ClassifierHead } from './bind.js';
import type { KerasWeightFile, ReadKerasH5Options } from './keras-h5-reader.js';

/** The first bytes of every HDF5 file. */
export const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** ONNX unless the bytes are HDF5: a serialized ModelProto starts with field 1 (ir_version, a varint), byte 0x08. */
export function isOnnxBytes(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === 0x08 && !HDF5_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Reads a Keras HDF5 file from its bytes (platform-specific). */
export type KerasBytesReader = (bytes: Uint8Array, label: string, options: ReadKerasH5Options) => Promise<KerasWeightFile>;

export interface ModelFromBytesOptions {
  /** How messages name the file. */
  label: string;
  readKeras: KerasBytesReader;
  head?: ClassifierHead;
  input?: Partial<Omit<InputDescription, 'layout'>>;
}

/** The graph and weights of a Keras `.h5` or ONNX file given as bytes. */
export async function modelFromBytes(
  bytes: Uint8Array,
  options: ModelFromBytesOptions,
): Promise<{ graph: ModelGraph; weights: ModelWeights; format: 'keras' | 'onnx' }> {
  const { label } = options;
  if (options.input !== undefined) checkInputChanges(options.input);
  if (bytes.length === 0) throw new Error(`${label}: the file is empty`);
  if (isOnnxBytes(bytes)) {
    const imported = importOnnx(bytes, { source: label, ...(options.input ? { input: options.input } : {}) });
    return { graph: imported.graph, weights: imported.weights, format: 'onnx' };
  }
  const file = await options.readKeras(bytes, label, { checkShapes: checkKerasShapes(options.head ? { head: options.head } : {}) });
  return { ...modelFromKerasFile(file, options.head, options.input), format: 'keras' };
}

/**
 * The model graph of a read Keras file: the ResNet its weights describe, bound to them, with the
 * user's changes to the input description.
 *
 * @throws Error naming the file, layer and shapes when the weights do not fit.
 */
export function modelFromKerasFile(
  file: KerasWeightFile,
  head: ClassifierHead | undefined,
  input: Partial<Omit<InputDescription, 'layout'>> | undefined,
): { graph: ModelGraph; weights: ModelWeights } {
  const arch = inferKerasResNet(file);
  const classes = arch.classes ?? (head ? head.kernel.shape[1] : undefined);
  const layers = buildResNet(kerasResNetSpec(arch.depth, { baseWidth: arch.baseWidth, ...(classes ? { classes } : {}) }));
  const { graph, weights } = layersToGraph(layers, bindWeights(layers, file, head ? { head } : {}));
  return { graph: withInput(graph, input), weights };
}

/** A graph with the user's changes to its input description (same layout and size). */
export function withInput(graph: ModelGraph, changes: Partial<Omit<InputDescription, 'layout'>> | undefined): ModelGraph {
  if (!changes) return graph;
  if ('layout' in changes) throw new Error('input: the layout is the model file\'s and cannot be changed');
  const { height, width } = inputSize(graph.inputDescription);
  if ((changes.size !== undefined && changes.size !== height) || (changes.width !== undefined && changes.width !== width)) {
    throw new Error(`input: size ${changes.size ?? height}×${changes.width ?? changes.size ?? width} was asked for, but this model takes ${height}×${width}`);
  }
  return { ...graph, inputDescription: { ...graph.inputDescription, ...changes } };
}
