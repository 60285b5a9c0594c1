/**
 * Grad-CAM (Selvaraju et al. 2017) at the last spatial layer (or a node the caller names): A =
 * the last feature map of the network with more than one position (a ResNet's last block
 * output), α_k = spatial mean of ∂y_t/∂A_k,
 * map = ReLU(Σ_k α_k A_k) upsampled bilinearly to the input size (ONNX Resize, linear,
 * half_pixel: PyTorch's `F.interpolate(mode='bilinear', align_corners=False)`). All in the
 * explainer graph: A and ∂y_t/∂A are the activation and relevance of a tapped layer under the
 * `gradient` rules.
 */
import { GraphIndex, type ModelGraph } from '../graph/graph.js';
import { BATCH } from '../onnx/classifier.js';
import { MAP_OUTPUT } from './gradient-methods.js';
import type { Attribution, AttributionMethod, MethodContext } from './methods.js';

/**
 * The node Grad-CAM explains by default: the last one (in graph order) whose output is a
 * feature map with more than one position, i.e. the last spatial layer before the head.
 *
 * @throws Error when the graph has no such node.
 */
export function lastSpatialNode(graph: ModelGraph): string {
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    const shape = graph.shapes.get(node.outputs[0]!);
    if (shape && shape.length === 3 && shape[1]! * shape[2]! > 1) return node.name;
  }
  throw new Error(`gradcam: model ${graph.name} has no feature map (C, H, W) with more than one position`);
}

/** The node Grad-CAM uses: `requested` (checked to output a feature map) or the last spatial one. */
export function gradcamNode(graph: ModelGraph, requested?: string): string {
  if (requested === undefined) return lastSpatialNode(graph);
  const node = new GraphIndex(graph).node(requested);
  const shape = graph.shapes.get(node.outputs[0]!);
  if (!shape || shape.length !== 3) throw new Error(`gradcam: node ${requested} (${node.op}) outputs [${shape ?? ''}], not a feature map (C, H, W)`);
  return requested;
}

export async function gradcamMethod(context: MethodContext): Promise<AttributionMethod> {
  const size = context.inputDescription.size;
  const layer = gradcamNode(context.graph, context.gradcamNode);
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
