/** Paths and readers for the reference fixtures copied into `test/fixtures/` (see its README). */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeNpy } from '../../src/image/npy.js';
import type { LrpOptions } from '../../src/lrp/presets.js';

/** The repository root (tests run from there, compiled under dist/). */
export const REPO_ROOT = resolve(new URL('../../../', import.meta.url).pathname);
/** Every reference fixture lives here; nothing outside the repository is read. */
export const FIXTURES_ROOT = resolve(REPO_ROOT, 'test/fixtures');
export const FIXTURE_DIR = join(FIXTURES_ROOT, 'resnet50-w8');
/** The narrow Keras ResNet50 of the fixture, bundled as the package's reference model. */
export const FIXTURE_WEIGHTS = resolve(REPO_ROOT, 'assets/models/resnet50-w8.h5');
/** The bundled sample photos. */
export const SAMPLES_DIR = resolve(REPO_ROOT, 'assets/samples');

export interface FixtureConfig {
  config: { init: 'logit' | 'softmax'; dense: 'zplus' | 'epsilon'; conv: 'zplus' | 'gamma'; gamma?: number; first: 'zb' | 'zplus'; split: 'ratio' | 'symmetric'; eps: number };
  input_sum: number;
  trace: [string, number][];
}

export interface Expected {
  target: number;
  logit: number;
  top5: number[];
  configs: Record<string, FixtureConfig>;
}

export const expected: Expected = JSON.parse(readFileSync(join(FIXTURE_DIR, 'expected.json'), 'utf8'));

/** Reads a fixture .npy as float64 values. */
export function fixtureArray(name: string): { data: Float64Array; shape: number[] } {
  const { data, shape } = decodeNpy(readFileSync(join(FIXTURE_DIR, name)));
  return { data: Float64Array.from(data), shape };
}

/** The preprocessed fixture input, (224, 224, 3) BGR, as the model takes it. */
export function fixtureInput(): Float32Array {
  return Float32Array.from(fixtureArray('input_caffe_nhwc.npy').data);
}

/** The fixture's rule configuration in this library's options. */
export function fixtureRules(config: FixtureConfig['config']): LrpOptions {
  return {
    start: config.init,
    split: config.split,
    epsilon: config.eps,
    first: config.first,
    dense: config.dense,
    conv: config.conv === 'gamma' ? { name: 'gamma', gamma: config.gamma! } : config.conv,
  };
}

/** ‖a − b‖ / ‖b‖. */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** The torchvision-layout fixtures (BN folded in `model.onnx`, kept in `model_bn.onnx`). */
export const TV_FIXTURES = ['tv-resnet50-w8', 'tv-resnet18-w4'] as const;
export type TvFixture = (typeof TV_FIXTURES)[number];
export const TV_FILES = ['model.onnx', 'model_bn.onnx'] as const;

export interface TvExpected {
  arch: string;
  target: number;
  /** The target's logit. */
  logit: number;
  configs: Record<string, { config: { init: 'logit' | 'softmax'; conv: 'zplus'; split: 'ratio' | 'symmetric'; eps: number }; input_sum: number; trace: [string, number][] }>;
  /** The paper's released code on the same input: its target and the sum of its map. */
  official: { target: number; map_sum: number };
}

export function tvPath(fixture: TvFixture, file: string): string {
  return join(FIXTURES_ROOT, fixture, file);
}

export function tvExpected(fixture: TvFixture): TvExpected {
  return JSON.parse(readFileSync(tvPath(fixture, 'expected.json'), 'utf8'));
}

export function tvArray(fixture: TvFixture, name: string): { data: Float64Array; shape: number[] } {
  const { data, shape } = decodeNpy(readFileSync(tvPath(fixture, name)));
  return { data: Float64Array.from(data), shape };
}

/** The fixture's normalised input, (3, 224, 224) RGB, as the ONNX model takes it. */
export function tvInput(fixture: TvFixture): Float32Array {
  return Float32Array.from(tvArray(fixture, 'input_nchw.npy').data);
}

/** A torchvision fixture configuration in this library's options. */
export function tvRules(config: TvExpected['configs'][string]['config']): LrpOptions {
  return { start: config.init, split: config.split, epsilon: config.eps, conv: config.conv };
}

/** The graph fixtures (any CNN in an ONNX file), each in `test/fixtures/graph/<name>/`. */
export const GRAPH_FIXTURES = ['cifar-resnet20', 'mobilenet_v2', 'vgg11_bn', 'densenet121', 'resnext50'] as const;
export type GraphFixture = (typeof GRAPH_FIXTURES)[number];

export interface GraphExpected {
  name: string;
  target: number;
  predicted: number;
  input: { shape: number[]; mean: number[]; std: number[] };
  first_layers: string[];
  configs: Record<string, { file: string; start: number; input_sum: number; conservation: number; ill_conditioned: boolean; float32_sensitivity: number; trace: Record<string, number> }>;
  source?: { classes?: string[] };
}

export function graphPath(fixture: GraphFixture, file: string): string {
  return join(FIXTURES_ROOT, 'graph', fixture, file);
}

export function graphExpected(fixture: GraphFixture): GraphExpected {
  return JSON.parse(readFileSync(graphPath(fixture, 'expected.json'), 'utf8'));
}

export function graphArray(fixture: GraphFixture, name: string): { data: Float64Array; shape: number[] } {
  const { data, shape } = decodeNpy(readFileSync(graphPath(fixture, name)));
  return { data: Float64Array.from(data), shape };
}
