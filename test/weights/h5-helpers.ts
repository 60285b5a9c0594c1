/**
 * Test helpers that write Keras-layout HDF5 files (and broken files) with h5wasm, so tests
 * can exercise the reader and the binder on files with known content.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import h5wasm from 'h5wasm/node';
import type { Group, LIBVER_BOUNDS } from 'h5wasm/node';
import type { LayerGraph, ParamTensor } from '../../src/model/layers.js';
import type { LayerWeights } from '../../src/weights/types.js';
import { FIXTURE_DIR, FIXTURE_WEIGHTS as FIXTURE_H5 } from '../support/fixture.js';

/** The repo root, from this file's compiled location `dist/test/weights/`. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export { FIXTURE_DIR, FIXTURE_H5 };
export const FIXTURE_PNG = join(FIXTURE_DIR, 'input_224.png');

/** One layer as Keras writes it: name and weights in Keras order, by short name. */
export interface H5Layer {
  name: string;
  weights: Array<{ name: string; tensor: ParamTensor }>;
}

export interface WriteOptions {
  /** Put the tree under `model_weights/`, as whole-model `.h5` files do. */
  wholeModel?: boolean;
  /** Store the weights as float64 instead of float32. */
  float64?: boolean;
  /** HDF5 format bounds; `latest` writes superblock version 3. */
  libver?: LIBVER_BOUNDS;
  /**
   * Store this weight chunked (gzip-compressed when `compress`) and then declare it larger,
   * with `shape`: the new chunks are never written, so the file stays small.
   */
  grow?: { layer: string; weight: string; shape: number[]; compress: boolean };
}

const created: string[] = [];

/** A unique path under the OS temp dir, removed by {@link removeTempFiles}. */
export function tempPath(stem: string): string {
  const path = join(tmpdir(), `resnet-lrp-test-${process.pid}-${randomBytes(6).toString('hex')}-${stem}`);
  created.push(path);
  return path;
}

/** Removes every file made by {@link tempPath} (call from `after`). */
export async function removeTempFiles(): Promise<void> {
  await Promise.all(created.splice(0).map((path) => rm(path, { force: true })));
}

/** Keras' stored weight name for a short name: `movingMean` → `moving_mean`. */
function kerasWeightName(short: string): string {
  return short.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Writes a Keras HDF5 weight file: attribute `layer_names`, one group per layer with
 * `weight_names` like `conv1_conv/kernel:0`, datasets at `<layer>/<layer>/kernel:0`.
 */
export async function writeKerasH5(path: string, layers: readonly H5Layer[], options: WriteOptions = {}): Promise<void> {
  await h5wasm.ready;
  const file = new h5wasm.File(path, 'w', options.libver ? { libver: options.libver } : {});
  try {
    let root: Group = file;
    file.create_attribute('keras_version', '2.2.4');
    file.create_attribute('backend', 'tensorflow');
    if (options.wholeModel) {
      file.create_attribute('model_config', JSON.stringify({ class_name: 'Model', config: { name: 'test' } }));
      root = file.create_group('model_weights');
    }
    root.create_attribute('layer_names', layers.map((l) => l.name));
    for (const layer of layers) {
      const group = root.create_group(layer.name);
      const names = layer.weights.map((w) => `${layer.name}/${kerasWeightName(w.name)}:0`);
      // Keras writes an empty byte-string array for layers without weights.
      if (names.length === 0) group.create_attribute('weight_names', [], [0], 'S1');
      else group.create_attribute('weight_names', names);
      if (layer.weights.length === 0) continue;
      const inner = group.create_group(layer.name);
      for (const { name, tensor } of layer.weights) {
        const grow = options.grow;
        if (grow && grow.layer === layer.name && grow.weight === name) {
          const dataset = inner.create_dataset({
            name: `${kerasWeightName(name)}:0`,
            data: tensor.data,
            shape: [...tensor.shape],
            dtype: '<f',
            maxshape: tensor.shape.map(() => null),
            chunks: tensor.shape.map((d) => Math.max(1, Math.min(d, 64))),
            ...(grow.compress ? { compression: 'gzip' as const } : {}),
          });
          dataset.resize(grow.shape);
          continue;
        }
        inner.create_dataset({
          name: `${kerasWeightName(name)}:0`,
          data: options.float64 ? Float64Array.from(tensor.data) : tensor.data,
          shape: [...tensor.shape],
          dtype: options.float64 ? '<d' : '<f',
        });
      }
    }
  } finally {
    file.close();
  }
}

/** The Keras layer list of a graph with its weights (layers without weights included, as Keras does). */
export function kerasLayers(graph: LayerGraph, weights: LayerWeights): H5Layer[] {
  return graph.layers.map((layer) => ({
    name: layer.name,
    weights: Object.entries(weights.get(layer.name) ?? {}).map(([name, tensor]) => ({ name, tensor })),
  }));
}

/** Writes a file that is not HDF5 (a copy of the fixture's PNG). */
export async function writeNonHdf5(): Promise<string> {
  const path = tempPath('image.h5');
  await writeFile(path, await readFile(FIXTURE_PNG));
  return path;
}

/** Writes the first `bytes` bytes of `source` (default: the fixture) to a temp file. */
export async function writeTruncatedCopy(bytes: number, source = FIXTURE_H5): Promise<string> {
  const path = tempPath('truncated.h5');
  await writeFile(path, (await readFile(source)).subarray(0, bytes));
  return path;
}

/** Writes a valid HDF5 file that is not a Keras file (one dataset, no attributes). */
export async function writePlainHdf5(): Promise<string> {
  await h5wasm.ready;
  const path = tempPath('plain.h5');
  const file = new h5wasm.File(path, 'w');
  try {
    file.create_dataset({ name: 'data', data: new Float32Array([1, 2, 3]), shape: [3], dtype: '<f' });
  } finally {
    file.close();
  }
  return path;
}
