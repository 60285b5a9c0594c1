/**
 * The gradient baselines: saliency (`gradient`), gradient × input (`gradxinput`) and Guided
 * Backprop (`gbp`). Each is the model's explainer compiled with the `gradient` or
 * `guided-backprop` rules, whose input relevance is then ∂y_t/∂x (y_t the target's logit), with
 * the method's map reduced over the channels inside the same ONNX graph.
 */
import type { ExplainerTensors } from '../lrp/compiler.js';
import type { PresetName } from '../lrp/presets.js';
import { imageShape, type InputDescription } from '../model/input.js';
import { BATCH, IO } from '../onnx/classifier.js';
import type { OnnxGraphBuilder } from '../onnx/graph-builder.js';
import type { Attribution, AttributionMethod, MethodContext } from './methods.js';

/** Output name of a method's map, (N, H, W). */
export const MAP_OUTPUT = 'method_map';

/** What a gradient method adds to the explainer graph. */
interface GradientMethodSpec {
  readonly name: string;
  readonly description: string;
  readonly preset: Extract<PresetName, 'gradient' | 'guided-backprop'>;
  /**
   * From the explainer's tensors (graph precision): the (N, H, W) map — undefined: the
   * `attribution` output (Σ over channels) — and the (N, C, H, W) per-value relevance —
   * undefined: the gradient itself.
   */
  emit?(g: OnnxGraphBuilder, t: ExplainerTensors): { map?: string; relevance?: string };
}

const RELEVANCE_OUTPUT = 'method_relevance';

async function gradientMethod(spec: GradientMethodSpec, context: MethodContext): Promise<AttributionMethod> {
  const desc = context.inputDescription;
  const size = desc.size;
  // The target's logit is what the relevance is measured against (conservationOf).
  const outputs: string[] = [IO.attribution, IO.relevance, IO.logits];
  const session = await context.compileExplainer({ preset: spec.preset }, {
    extend(g, t) {
      const { map, relevance } = spec.emit?.(g, t) ?? {};
      if (map) outputs[0] = g.castOut(map, MAP_OUTPUT, [BATCH, size, size]);
      if (relevance) outputs[1] = g.castOut(inModelLayout(g, relevance, desc), RELEVANCE_OUTPUT, [BATCH, ...imageShape(desc)]);
    },
  });
  const pixels = size * size;
  const values = 3 * pixels;
  return {
    name: spec.name,
    description: spec.description,
    async attribute(inputs, targets): Promise<Attribution[]> {
      if (inputs.length !== targets.length) throw new Error(`${spec.name}: ${inputs.length} images but ${targets.length} targets`);
      if (inputs.length === 0) return [];
      const [maps, relevance, logits] = await session.run(inputs, targets, outputs);
      const classes = logits!.length / inputs.length;
      return inputs.map((_, i) => ({
        map: maps!.slice(i * pixels, (i + 1) * pixels),
        relevance: relevance!.slice(i * values, (i + 1) * values),
        start: logits![i * classes + targets[i]!]!,
      }));
    },
    dispose: () => session.dispose(),
  };
}

/** Saliency (Simonyan et al. 2014): max over channels of |∂y_t/∂x|; relevance: the gradient ∂y_t/∂x. */
export function saliencyMethod(context: MethodContext): Promise<AttributionMethod> {
  return gradientMethod({
    name: 'gradient',
    description: 'saliency: max over channels of |∂y_t/∂x|',
    preset: 'gradient',
    emit: (g, t) => ({ map: g.op('ReduceMax', [g.op('Abs', [t.relevance!], 'saliency/abs')], 'saliency/max', { axes: [1], keepdims: 0 }) }),
  }, context);
}

/** Gradient × input (Shrikumar et al. 2016): Σ over channels of x ⊙ ∂y_t/∂x in the model's input space. */
export function gradientTimesInputMethod(context: MethodContext): Promise<AttributionMethod> {
  return gradientMethod({
    name: 'gradxinput',
    description: 'gradient × input: Σ over channels of x ⊙ ∂y_t/∂x',
    preset: 'gradient',
    emit(g, t) {
      const relevance = g.op('Mul', [t.image, t.relevance!], 'gradxinput/product');
      return { relevance, map: g.op('ReduceSum', [relevance, g.ints([1])], 'gradxinput/sum', { keepdims: 0 }) };
    },
  }, context);
}

/**
 * Guided Backprop (Springenberg et al. 2015): the gradient with every ReLU passing only positive
 * signal; map = its sum over channels (zennit's and Captum's convention for heatmaps).
 */
export function guidedBackpropMethod(context: MethodContext): Promise<AttributionMethod> {
  return gradientMethod({
    name: 'gbp',
    description: 'Guided Backprop: the guided gradient summed over channels',
    preset: 'guided-backprop',
  }, context);
}

/** An (N, C, H, W) tensor in the model's layout. */
function inModelLayout(g: OnnxGraphBuilder, nchw: string, desc: InputDescription): string {
  return desc.layout === 'NCHW' ? nchw : g.op('Transpose', [nchw], `${nchw}/nhwc`, { perm: [0, 2, 3, 1] });
}
