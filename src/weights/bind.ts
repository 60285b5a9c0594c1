/**
 * Binding a Keras weight file to a model graph: every parameterised layer of the graph gets
 * its tensors from the file, with presence and exact shapes checked, and every weighted layer
 * of the file must be used — a mismatch in either direction means the file is for another
 * architecture. Also infers the Keras ResNet variant a file was saved from.
 */
import { expectedParamShapes, PARAM_NAMES, type DenseLayer, type LayerParams, type LayerGraph, type ParamTensor } from '../model/layers.js';
import { buildResNet, kerasResNetSpec } from '../model/resnet.js';
import { weightValueProblem } from './finite.js';
import type { KerasWeightFile, KerasWeightShapes } from './keras-h5.js';
import type { LayerWeights } from './types.js';

/** A tensor as far as shape checks go: its shape, and its values once read. */
interface Shaped {
  readonly shape: readonly number[];
  readonly data?: Float32Array;
}
/** Layer → short weight name → tensor (or only its declared shape). */
type ShapedLayers = ReadonlyMap<string, ReadonlyMap<string, Shaped>>;

/** A replacement classifier for files saved without one (`include_top=False`). */
export interface ClassifierHead {
  /** Dense kernel, shape (features, classes), e.g. (2048, 1000). */
  readonly kernel: ParamTensor;
  /** Dense bias, shape (classes). */
  readonly bias: ParamTensor;
}

export interface BindOptions {
  /**
   * Weights for the graph's classifier (its output dense layer). Required when the file has
   * no classifier (notop files); when given, it is used even if the file has one, and the
   * file's classifier is ignored.
   */
  readonly head?: ClassifierHead;
}

/** `code` of the error {@link bindWeights} throws when the file has no classifier (a notop file). */
export const MISSING_CLASSIFIER = 'ERR_MISSING_CLASSIFIER';

/** At most this many problems are listed in one error message. */
const MAX_LISTED = 12;

/**
 * Takes the parameters of every layer of `graph` that has any from `file`.
 *
 * @throws Error naming the file and each problem: layers missing from the file, layers of the
 *   file the graph lacks, missing or unexpected weights, and shape mismatches
 *   (`weights.h5: layer conv2_block1_1_conv kernel: expected [1,1,64,64], found [1,1,64,32]`).
 */
export function bindWeights(graph: LayerGraph, file: KerasWeightFile, options: BindOptions = {}): LayerWeights {
  return bindShaped(graph, file, options) as LayerWeights;
}

/**
 * The check {@link bindWeights} makes, on declared shapes only: for `readKerasH5`'s
 * `checkShapes`, so that a file whose datasets do not fit the Keras ResNet it looks like is
 * refused before any value is read.
 */
export function checkKerasShapes(options: BindOptions = {}): (shapes: KerasWeightShapes) => void {
  return (shapes) => {
    const arch = inferKerasResNet(shapes);
    const classes = arch.classes ?? (options.head ? options.head.kernel.shape[1] : undefined);
    const graph = buildResNet(kerasResNetSpec(arch.depth, { baseWidth: arch.baseWidth, ...(classes ? { classes } : {}) }));
    bindShaped(graph, shapes, options);
  };
}

/** bindWeights on tensors that may not have their values yet (then only shapes are checked). */
function bindShaped(graph: LayerGraph, file: { readonly source: string; readonly layers: ShapedLayers }, options: BindOptions): Map<string, LayerParams> {
  const classifier = graph.layers.find((l): l is DenseLayer => l.name === graph.output && l.kind === 'dense');
  const { head } = options;
  const problems: string[] = [];
  const missingLayers: string[] = [];
  const weights = new Map<string, LayerParams>();

  for (const layer of graph.layers) {
    if (!PARAM_NAMES[layer.kind]) continue;
    const expected = expectedParamShapes(graph, layer);
    let found: ReadonlyMap<string, Shaped> | undefined;
    if (head && layer === classifier) {
      found = new Map<string, Shaped>([['kernel', head.kernel], ['bias', head.bias]]);
    } else {
      found = file.layers.get(layer.name);
      if (!found) {
        missingLayers.push(layer.name);
        continue;
      }
    }
    const where = head && layer === classifier ? `head (layer ${layer.name})` : `layer ${layer.name}`;
    const params: Record<string, ParamTensor> = {};
    for (const [param, shape] of Object.entries(expected)) {
      const tensor = found.get(param);
      if (!tensor) {
        problems.push(`${where}: missing weight ${param} (expected shape [${shape}])`);
      } else if (!sameShape(tensor.shape, shape)) {
        problems.push(`${where} ${param}: expected [${shape}], found [${tensor.shape}]`);
      } else if (tensor.data === undefined) {
        // declared shape only: fits
      } else if (tensor.data.length !== shape.reduce((a, b) => a * b, 1)) {
        problems.push(`${where} ${param}: shape [${shape}] needs ${shape.reduce((a, b) => a * b, 1)} values, found ${tensor.data.length}`);
      } else {
        const bad = weightValueProblem(param, tensor.data);
        if (bad) problems.push(`${where} ${param}: ${bad}`);
        else params[param] = { data: tensor.data, shape: [...shape] };
      }
    }
    const unexpected = [...found.keys()].filter((k) => !(k in expected));
    if (unexpected.length > 0) problems.push(`${where}: unexpected weights ${unexpected.join(', ')} (model has ${Object.keys(expected).join(', ')})`);
    weights.set(layer.name, params);
  }

  const graphNames = new Set(graph.layers.filter((l) => PARAM_NAMES[l.kind]).map((l) => l.name));
  const extra = [...file.layers.keys()].filter((name) => !graphNames.has(name));

  const noClassifier = classifier !== undefined && missingLayers.includes(classifier.name);
  if (classifier && noClassifier) {
    const units = classifier.units;
    const features = expectedParamShapes(graph, classifier).kernel![0];
    problems.unshift(
      `the file has no classifier (no layer ${classifier.name}; an include_top=False "notop" file?): ` +
      `give one as head: { kernel, bias } (LrpModel.load or bindWeights) with kernel [${features},${units}] and bias [${units}]`,
    );
    missingLayers.splice(missingLayers.indexOf(classifier.name), 1);
  }
  if (missingLayers.length > 0) {
    problems.push(`${count(missingLayers.length, 'layer')} of model ${graph.name} missing from the file: ${list(missingLayers)}`);
  }
  if (extra.length > 0) {
    problems.push(`${count(extra.length, 'layer')} with weights not in model ${graph.name} (wrong architecture?): ${list(extra)}`);
  }

  const fail = (message: string): Error => Object.assign(new Error(message), noClassifier ? { code: MISSING_CLASSIFIER } : {});
  if (problems.length === 1) throw fail(`${file.source}: ${problems[0]}${architectureHint(graph, file)}`);
  if (problems.length > 1) {
    const shown = problems.slice(0, MAX_LISTED).map((p) => `\n  - ${p}`).join('');
    const more = problems.length > MAX_LISTED ? `\n  … and ${problems.length - MAX_LISTED} more` : '';
    throw fail(`${file.source}: ${problems.length} problems binding to model ${graph.name}:${shown}${more}${architectureHint(graph, file)}`);
  }
  return weights;
}

/** When the file is a Keras ResNet of another depth or width than the graph, says which. */
function architectureHint(graph: LayerGraph, file: { readonly source: string; readonly layers: ShapedLayers }): string {
  let info: KerasResNetInfo;
  try {
    info = inferKerasResNet(file);
  } catch {
    return '';
  }
  const stem = graph.layers.find((l) => l.name === 'conv1_conv');
  if (graph.name === `resnet${info.depth}` && stem?.kind === 'conv' && stem.filters === info.baseWidth) return '';
  return `\n(the file looks like Keras ResNet${info.depth} with baseWidth ${info.baseWidth}: build the graph from inferKerasResNet(file))`;
}

/** The Keras ResNet variant a weight file was saved from. */
export interface KerasResNetInfo {
  depth: 50 | 101 | 152;
  /** Stem width (filters of `conv1_conv`); 64 for the standard models. */
  baseWidth: number;
  /** Classes of the `predictions` layer; `undefined` for files without a classifier. */
  classes: number | undefined;
}

const DEPTH_BY_CONV4_BLOCKS: Readonly<Record<number, 50 | 101 | 152>> = { 6: 50, 23: 101, 36: 152 };

/**
 * Infers depth, width and classes of a Keras ResNet weight file, so that
 * `buildResNet(kerasResNetSpec(depth, { baseWidth, classes }))` builds a graph it binds to.
 *
 * @throws Error naming the file when it has no `conv1_conv` kernel or an unknown number of
 *   conv4 blocks.
 */
export function inferKerasResNet(file: { readonly source: string; readonly layers: ShapedLayers }): KerasResNetInfo {
  const stem = file.layers.get('conv1_conv')?.get('kernel');
  if (!stem || stem.shape.length !== 4) {
    throw new Error(`${file.source}: not a Keras ResNet file (no 4-D conv1_conv kernel)`);
  }
  const conv4Blocks = new Set<number>();
  for (const name of file.layers.keys()) {
    const match = /^conv4_block(\d+)_/.exec(name);
    if (match) conv4Blocks.add(Number(match[1]));
  }
  const depth = DEPTH_BY_CONV4_BLOCKS[conv4Blocks.size];
  if (!depth) {
    throw new Error(`${file.source}: ${conv4Blocks.size} conv4 blocks match no Keras ResNet (6 → 50, 23 → 101, 36 → 152)`);
  }
  const predictions = file.layers.get('predictions')?.get('kernel');
  return { depth, baseWidth: stem.shape[3]!, classes: predictions?.shape[1] };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function list(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown}, … (${names.length - MAX_LISTED} more)` : shown;
}
