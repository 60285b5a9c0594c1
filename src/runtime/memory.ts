/**
 * How many targets (classes, images) one onnxruntime run may take: the runs of the explainer
 * grow linearly with their targets, so a run of K classes or N images is split into runs whose
 * estimated working memory fits a budget. The estimate lives in one place
 * ({@link perTargetBytes}) and reads only sizes (values per image), so any model description
 * that can say how many values its activations hold can feed it. Browser-safe.
 */
import type { ModelGraph } from '../graph/graph.js';
import type { Precision } from '../onnx/graph-builder.js';

/**
 * Default budget of one run's working memory that grows with its targets: 1 GiB. The full
 * ResNet50 (float32) then explains about 14 classes per run; the memory of the model itself
 * (weights, sessions) and of the results returned comes on top.
 */
export const DEFAULT_MEMORY_BUDGET = 2 ** 30;

/** The sizes the estimate reads, in values per image. */
export interface ModelSize {
  /** Values of the input tensor (C·H·W). */
  inputValues: number;
  /** Values of every activation of the forward pass, summed over the layers (input included). */
  activationValues: number;
}

/** The sizes of a model graph (shapes are per image, without the batch dimension). */
export function modelSize(graph: ModelGraph): ModelSize {
  const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const inputValues = count(graph.shapes.get(graph.input) ?? []);
  let activationValues = inputValues;
  for (const node of graph.nodes) for (const out of node.outputs) activationValues += count(graph.shapes.get(out) ?? []);
  return { inputValues, activationValues };
}

/**
 * Estimated bytes one more target adds to a run of the explainer: half a copy of every
 * activation in the graph's precision, plus the target's own outputs (relevance and map,
 * float32). Measured on the narrow ResNet50 fixture (resnet50-w8, 4.9 M activation values per
 * image), one more class adds 7.5 MB of peak RSS against 11 MB estimated; on the full
 * ResNet50 (37 M values) about 17 MB against 75 MB estimated: an upper bound, as a budget needs.
 */
export function perTargetBytes(size: ModelSize, precision: Precision): number {
  const bytes = precision === 'float64' ? 8 : 4;
  return Math.ceil((size.activationValues * bytes) / 2 + size.inputValues * 4 * 2);
}

/** Estimated bytes one more image adds to a run: its forward pass (every activation) and its target. */
export function perImageBytes(size: ModelSize, precision: Precision): number {
  return perTargetBytes(size, precision) + size.activationValues * (precision === 'float64' ? 8 : 4);
}

/**
 * Targets per run for a budget: as many as fit, at least one (a single target always runs).
 */
export function targetsPerRun(budgetBytes: number, targetBytes: number): number {
  return Math.max(1, Math.floor(budgetBytes / Math.max(1, targetBytes)));
}

/**
 * Checks a `memoryBudget` option (bytes).
 *
 * @throws RangeError for anything but a finite number ≥ 1 MiB.
 */
export function checkMemoryBudget(value: unknown): number {
  if (value === undefined) return DEFAULT_MEMORY_BUDGET;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 2 ** 20) {
    throw new RangeError(`memoryBudget must be a number of bytes ≥ 1048576 (1 MiB), got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}
