/**
 * The gradient-based methods on a tiny colour ResNet (batch norm, max pool, skip connection,
 * global pooling), in the Keras layout (NHWC, caffe) and the torchvision layout (NCHW,
 * normalised): saliency and gradient × input against central finite differences of the float64
 * forward pass, Guided Backprop, Integrated Gradients and Grad-CAM against direct float64
 * implementations written here (IG's completeness within 1 %), each in a batch of two images
 * with different targets and in both graph precisions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { explainerSession } from '../../src/eval/explainer-session.js';
import { gradcamNode, lastSpatialNode } from '../../src/eval/gradcam.js';
import { layersToGraph } from '../../src/import/keras.js';
import { createMethod, type MethodContext } from '../../src/eval/methods.js';
import { compileExplainer, tapOutputs } from '../../src/lrp/compiler.js';
import { resolveLrpOptions } from '../../src/lrp/presets.js';
import type { Layer, LayerGraph } from '../../src/model/layers.js';
import { blackValues, CAFFE_INPUT, preprocessValue, TORCHVISION_INPUT, type InputDescription } from '../../src/model/input.js';
import { buildResNet, kerasResNetSpec } from '../../src/model/resnet.js';
import type { Precision } from '../../src/onnx/graph-builder.js';
import { IO } from '../../src/onnx/classifier.js';
import { createSession, ort } from '../../src/runtime/session.js';
import type { LayerWeights } from '../../src/weights/types.js';
import { relativeL2 } from '../support/fixture.js';
import { randomWeights } from '../../src/weights/random.js';
import { referenceForward, referenceRelevance, type RefOptions } from '../support/reference-lrp.js';
import { CLASSES, random, SIZE, tinyResNet, tinyWeights } from '../support/tiny-nets.js';

const C = 3;
const HW = SIZE * SIZE;
const TARGETS = [0, 2];
/** Relative L2 error allowed per graph precision (outputs are float32 either way). */
const TOLERANCE: Record<Precision, number> = { float64: 1e-6, float32: 1e-5 };

function tinyContext(graph: LayerGraph, weights: LayerWeights, precision: Precision): MethodContext {
  return {
    inputDescription: graph.inputDescription,
    graph: layersToGraph(graph, weights).graph,
    ig: { steps: 32, batch: 5 },
    loadLrp: () => Promise.reject(new Error('not needed')),
    async compileExplainer(rules, options) {
      const model = layersToGraph(graph, weights);
      const compiled = compileExplainer(model.graph, model.weights, resolveLrpOptions(rules), precision, options);
      return explainerSession(await createSession(compiled.model), graph.inputDescription);
    },
  };
}

/** Seeded random pixels 0..255 through the description's preprocessing, in its layout (float32 values). */
function image(desc: InputDescription, seed: number): Float32Array {
  const rand = random(seed);
  const chw = Array.from({ length: C * HW }, (_, i) => preprocessValue(desc, (rand() + 0.5) * 255, Math.floor(i / HW)));
  return Float32Array.from(fromChw(Float64Array.from(chw), desc));
}

function toChw(x: ArrayLike<number>, desc: InputDescription): Float64Array {
  const out = new Float64Array(C * HW);
  for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) out[c * HW + p] = desc.layout === 'NCHW' ? x[c * HW + p]! : x[p * C + c]!;
  return out;
}

function fromChw(x: Float64Array, desc: InputDescription): Float64Array {
  const out = new Float64Array(C * HW);
  for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) out[desc.layout === 'NCHW' ? c * HW + p : p * C + c] = x[c * HW + p]!;
  return out;
}

/** Per pixel over channels of a (C, H, W) tensor. */
function overChannels(x: Float64Array, f: (values: number[]) => number): Float64Array {
  return Float64Array.from({ length: HW }, (_, p) => f([0, 1, 2].map((c) => x[c * HW + p]!)));
}
const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

const logit = (graph: LayerGraph, weights: LayerWeights, x: Float64Array, t: number) => referenceForward(graph, weights, x).get(graph.output)![t]!;

/** ∂y_t/∂x (C, H, W) by central differences of the float64 forward pass, checking that it is linear within ±h. */
function finiteDifferences(graph: LayerGraph, weights: LayerWeights, x: Float64Array, t: number): Float64Array {
  const h = 1e-5 * Math.max(...x.map(Math.abs));
  const y0 = logit(graph, weights, x, t);
  return x.map((_, i) => {
    const up = x.slice();
    const down = x.slice();
    up[i]! += h;
    down[i]! -= h;
    const a = logit(graph, weights, up, t) - y0;
    const b = y0 - logit(graph, weights, down, t);
    assert.ok(Math.abs(a - b) <= 1e-9 * (Math.abs(a) + Math.abs(b) + 1e-12) + 1e-12, `a ReLU or max decision flips within ±h at value ${i}`);
    return (a + b) / (2 * h);
  });
}

function referenceGradient(graph: LayerGraph, weights: LayerWeights, x: Float64Array, t: number, relu: 'gradient' | 'guided'): Float64Array {
  const options: RefOptions = {
    rule: (layer: Layer) => ({ name: layer.kind === 'relu' ? relu : 'gradient' }),
    start: 'gradient',
    stabilizer: 'signed',
    epsilon: 1e-9,
    target: t,
  };
  return referenceRelevance(graph, weights, x, options).relevance;
}

/** Bilinear resize (C=1) from n×n to m×m with half-pixel centres, clamped at the border (PyTorch, align_corners=False). */
function bilinear(src: Float64Array, n: number, m: number): Float64Array {
  const coord = (i: number) => {
    const s = Math.min(Math.max((i + 0.5) * (n / m) - 0.5, 0), n - 1);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, n - 1), s - i0] as const;
  };
  const out = new Float64Array(m * m);
  for (let y = 0; y < m; y++) for (let x = 0; x < m; x++) {
    const [y0, y1, fy] = coord(y);
    const [x0, x1, fx] = coord(x);
    const at = (r: number, c: number) => src[r * n + c]!;
    out[y * m + x] = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
  }
  return out;
}

const LAYOUTS: [string, InputDescription][] = [
  ['keras (NHWC, caffe)', { ...CAFFE_INPUT, size: SIZE }],
  ['torchvision (NCHW, normalised)', { ...TORCHVISION_INPUT, size: SIZE }],
];

for (const [label, desc] of LAYOUTS) {
  describe(`gradient methods, ${label}`, () => {
    // The max pool reads the batch norm directly: no ties in its windows (for finite differences).
    const graph: LayerGraph = { ...tinyResNet('pool-first', C), inputDescription: desc };
    // The caffe range (±128) is ~60× the normalised one: scale the weights' effect by the stem's.
    const weights = tinyWeights(graph, 3);
    const inputs = [image(desc, 5), image(desc, 6)];
    const chw = inputs.map((x) => toChw(x, desc));

    for (const precision of ['float64', 'float32'] as const) {
      const context = tinyContext(graph, weights, precision);
      const tolerance = TOLERANCE[precision];
      const check = (what: string, got: ArrayLike<number>, want: Float64Array) => {
        const error = relativeL2(got, want);
        assert.ok(error < tolerance, `${what} (${precision}): relative L2 error ${error}`);
        if (process.env.RESNET_LRP_TEST_VERBOSE) console.log(`${label} | ${what} | ${precision} | ${error.toExponential(1)}`);
      };

      test(`gradient and gradxinput = finite differences (${precision})`, async () => {
        const saliency = await createMethod('gradient', context);
        const gradxinput = await createMethod('gradxinput', context);
        try {
          const s = await saliency.attribute(inputs, TARGETS);
          const gx = await gradxinput.attribute(inputs, TARGETS);
          for (let i = 0; i < inputs.length; i++) {
            const fd = finiteDifferences(graph, weights, chw[i]!, TARGETS[i]!);
            check(`gradient relevance, image ${i}`, s[i]!.relevance!, fromChw(fd, desc));
            check(`gradient map, image ${i}`, s[i]!.map, overChannels(fd, (v) => Math.max(...v.map(Math.abs))));
            const product = fd.map((g, k) => g * chw[i]![k]!);
            check(`gradxinput relevance, image ${i}`, gx[i]!.relevance!, fromChw(product, desc));
            check(`gradxinput map, image ${i}`, gx[i]!.map, overChannels(product, sum));
          }
        } finally {
          await saliency.dispose();
          await gradxinput.dispose();
        }
      });

      test(`gbp = the float64 guided backprop (${precision})`, async () => {
        const gbp = await createMethod('gbp', context);
        try {
          const got = await gbp.attribute(inputs, TARGETS);
          for (let i = 0; i < inputs.length; i++) {
            const guided = referenceGradient(graph, weights, chw[i]!, TARGETS[i]!, 'guided');
            const plain = referenceGradient(graph, weights, chw[i]!, TARGETS[i]!, 'gradient');
            assert.ok(relativeL2(plain, guided) > 1e-2, 'the guided gradient differs from the plain one here');
            check(`gbp relevance, image ${i}`, got[i]!.relevance!, fromChw(guided, desc));
            check(`gbp map, image ${i}`, got[i]!.map, overChannels(guided, sum));
          }
        } finally {
          await gbp.dispose();
        }
      });

      test(`ig = the float64 trapezoidal rule over 32 steps; complete within 1 % at 128 steps (${precision})`, async () => {
        const black = blackValues(desc);
        const b = Float64Array.from({ length: C * HW }, (_, k) => black[Math.floor(k / HW)]!);
        const ig = await createMethod('ig', context);
        // 129 path points in batches of 10: the last batch is partial.
        const fine = await createMethod('ig', { ...context, ig: { steps: 128, batch: 10 } });
        try {
          const got = await ig.attribute(inputs, TARGETS);
          const converged = await fine.attribute(inputs, TARGETS);
          for (let i = 0; i < inputs.length; i++) {
            const x = chw[i]!;
            const t = TARGETS[i]!;
            const integral = new Float64Array(C * HW);
            for (let step = 0; step <= 32; step++) {
              // The method's path points are float32 values.
              const point = x.map((v, k) => Math.fround(b[k]! + (step / 32) * (v - b[k]!)));
              const weight = (step === 0 || step === 32 ? 0.5 : 1) / 32;
              referenceGradient(graph, weights, point, t, 'gradient').forEach((g, k) => (integral[k] = integral[k]! + weight * g));
            }
            const attribution = x.map((v, k) => (v - b[k]!) * integral[k]!);
            check(`ig relevance, image ${i}`, got[i]!.relevance!, fromChw(attribution, desc));
            check(`ig map, image ${i}`, got[i]!.map, overChannels(attribution, sum));
            // Completeness: the network is piecewise linear, so the error falls like 1/m.
            const difference = logit(graph, weights, x, t) - logit(graph, weights, b, t);
            const error = (map: Float32Array) => Math.abs(map.reduce((s, v) => s + v, 0) - difference) / Math.abs(difference);
            assert.ok(error(converged[i]!.map) < 0.01, `image ${i}: Σ attribution vs y(x) − y(black) = ${difference}: ${(100 * error(converged[i]!.map)).toFixed(2)} % off at 128 steps`);
            if (process.env.RESNET_LRP_TEST_VERBOSE) {
              console.log(`${label} | ig completeness | ${precision} | image ${i} | 32 steps ${(100 * error(got[i]!.map)).toFixed(2)} % | 128 steps ${(100 * error(converged[i]!.map)).toFixed(2)} %`);
            }
          }
        } finally {
          await ig.dispose();
          await fine.dispose();
        }
      });

      test(`gradcam = ReLU(Σ α_k A_k) upsampled, in float64 (${precision})`, async () => {
        const layer = lastSpatialNode(layersToGraph(graph, weights).graph);
        assert.equal(layer, 'r3');
        const gradcam = await createMethod('gradcam', context);
        // Class 1 has weighted sums of both signs on these images: the ReLU matters.
        const targets = [1, 1];
        let cut = 0;
        try {
          const got = await gradcam.attribute(inputs, targets);
          const kernel = weights.get('fc')!.kernel!.data; // (features, classes)
          for (let i = 0; i < inputs.length; i++) {
            const a = referenceForward(graph, weights, chw[i]!).get(layer)!;
            const [k, h, w] = graph.layers.find((l: Layer) => l.name === layer)!.outputShape as [number, number, number];
            // y_t = b_t + Σ_k W[k, t] · mean(A_k): ∂y_t/∂A_k is W[k, t]/(h·w) everywhere, which is α_k.
            const cam = new Float64Array(h * w);
            for (let ch = 0; ch < k; ch++) {
              const alpha = kernel[ch * CLASSES + targets[i]!]! / (h * w);
              for (let p = 0; p < h * w; p++) cam[p] = cam[p]! + alpha * a[ch * h * w + p]!;
            }
            const relu = cam.map((v) => Math.max(v, 0));
            assert.ok(relu.some((v) => v > 0), `image ${i}: some position kept`);
            cut += relu.filter((v) => v === 0).length;
            check(`gradcam map, image ${i}`, got[i]!.map, bilinear(relu, h, SIZE));
            assert.equal(got[i]!.relevance, undefined);
          }
          assert.ok(cut > 4, `the ReLU cuts ${cut} positions`);
        } finally {
          await gradcam.dispose();
        }
      });
    }
  });
}

test('taps: stopping at them leaves the pass below out and the tapped values unchanged; unknown layers are named', async () => {
  const resnet50 = buildResNet(kerasResNetSpec(50));
  const resnet50Graph = layersToGraph(resnet50, randomWeights(resnet50, 0)).graph;
  assert.equal(lastSpatialNode(resnet50Graph), 'conv5_block3_out');
  // A node the user names: a feature map, or an error naming what it is.
  assert.equal(gradcamNode(resnet50Graph, 'conv4_block6_out'), 'conv4_block6_out');
  assert.equal(gradcamNode(resnet50Graph), 'conv5_block3_out');
  assert.throws(() => gradcamNode(resnet50Graph, 'predictions'), /gradcam: node predictions \(Gemm\) outputs \[1000\], not a feature map/);
  assert.throws(() => gradcamNode(resnet50Graph, 'nope'), /has no node named "nope"/);
  const layers = tinyResNet('torch', C);
  const { graph, weights } = layersToGraph(layers, tinyWeights(layers, 1));
  const config = resolveLrpOptions({ preset: 'gradient' });
  const tap = tapOutputs('r2');
  const run = async (stopAtTaps: boolean) => {
    const session = await createSession(compileExplainer(graph, weights, config, 'float64', { tapLayers: ['r2'], stopAtTaps }).model);
    try {
      const x = Float32Array.from({ length: C * HW }, (_, i) => Math.sin(i));
      const out = await session.run({ [IO.input]: new ort.Tensor('float32', x, [1, SIZE, SIZE, C]), [IO.target]: new ort.Tensor('int64', [1n], [1]) });
      return { names: session.outputNames, activation: out[tap.activation]!.data, relevance: out[tap.relevance]!.data };
    } finally {
      await session.release();
    }
  };
  const full = await run(false);
  const stopped = await run(true);
  assert.ok(full.names.includes(IO.relevance) && !stopped.names.includes(IO.relevance) && !stopped.names.includes(IO.trace));
  assert.deepEqual(stopped.activation, full.activation);
  assert.deepEqual(stopped.relevance, full.relevance);
  assert.ok((full.relevance as Float32Array).some((v) => v !== 0));
  assert.throws(() => compileExplainer(graph, weights, config, 'float32', { tapLayers: ['nope'] }), /has no node named "nope"/);
  assert.throws(() => compileExplainer(graph, weights, config, 'float32', { stopAtTaps: true }), /stopAtTaps needs tapLayers/);
});
