/**
 * Grad-CAM (Selvaraju et al. 2017) at the last residual stage: A = the feature map the global
 * average pool reads (the last block's output), α_k = spatial mean of ∂y_t/∂A_k,
 * map = ReLU(Σ_k α_k A_k) upsampled bilinearly to the input size (ONNX Resize, linear,
 * half_pixel: PyTorch's `F.interpolate(mode='bilinear', align_corners=False)`). All in the
 * explainer graph: A and ∂y_t/∂A are the activation and relevance of a tapped layer under the
 * `gradient` rules.
 */
import type { ModelGraph } from '../model/graph.js';
import { layerByName } from '../model/graph.js';
import { BATCH } from '../onnx/classifier.js';
import { MAP_OUTPUT } from './gradient-methods.js';
import type { Attribution, AttributionMethod, MethodContext } from './methods.js';

/** The layer Grad-CAM explains: the input of the global average pool that feeds the classifier. */
export function lastStageLayer(graph: ModelGraph): string {
  const head = layerByName(graph, graph.output);
  const pool = head.inputs.length === 1 ? layerByName(graph, head.inputs[0]!) : undefined;
  if (pool?.kind !== 'globalAvgPool') throw new Error(`gradcam: model ${graph.name}: the classifier ${head.name} does not read a global average pool`);
  return pool.inputs[0]!;
}

export async function gradcamMethod(context: MethodContext): Promise<AttributionMethod> {
  const size = context.inputDescription.size;
  const layer = lastStageLayer(context.graph);
  const session = await context.compileExplainer({ preset: 'gradient' }, {
    tapLayers: [layer],
    // Only ∂y_t/∂A is needed: the gradient below the last stage is not computed.
    stopAtTaps: true,
    extend(g, t) {
      const tap = t.taps.get(layer)!;
      const alpha = g.op('ReduceMean', [tap.relevance], 'gradcam/alpha', { axes: [2, 3], keepdims: 1 });
      const weighted = g.op('ReduceSum', [g.op('Mul', [tap.activation, alpha], 'gradcam/weighted'), g.ints([1])], 'gradcam/sum', { keepdims: 1 });
      let cam = g.op('Relu', [weighted], 'gradcam/relu');
      if (g.precision !== 'float32') cam = g.op('Cast', [cam], 'gradcam/float32', { to: 1 /* FLOAT */ });
      // Output sizes (N, 1, size, size): the scale is size / h, as PyTorch takes it from `size`.
      const sizes = g.op('Concat', [g.op('Slice', [g.op('Shape', [cam], 'gradcam/shape'), g.ints([0]), g.ints([2])], 'gradcam/n1'), g.ints([size, size])], 'gradcam/sizes', { axis: 0 });
      const upsampled = g.op('Resize', [cam, '', '', sizes], 'gradcam/upsampled', { mode: 'linear', coordinate_transformation_mode: 'half_pixel' });
      g.output(g.op('Squeeze', [upsampled, g.ints([1])], MAP_OUTPUT), 'float32', [BATCH, size, size]);
    },
  });
  const pixels = size * size;
  return {
    name: 'gradcam',
    description: `Grad-CAM at ${layer}, bilinear upsampling`,
    async attribute(inputs, targets): Promise<Attribution[]> {
      if (inputs.length !== targets.length) throw new Error(`gradcam: ${inputs.length} images but ${targets.length} targets`);
      if (inputs.length === 0) return [];
      const [maps] = await session.run(inputs, targets, [MAP_OUTPUT]);
      return inputs.map((_, i) => ({ map: maps!.slice(i * pixels, (i + 1) * pixels) }));
    },
    dispose: () => session.dispose(),
  };
}
