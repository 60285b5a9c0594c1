/**
 * A compiled explainer as the gradient-based methods run it: a batch of preprocessed images in
 * the model's layout with one target class each in, the outputs the method asks for out.
 */
import { imageShape, type InputDescription } from '../model/input.js';
import { IO } from '../onnx/classifier.js';
import { ort } from '../runtime/session.js';

/** An explainer session bound to a model's input description. */
export interface ExplainerSession {
  /**
   * Runs `inputs` (one preprocessed image each) for their `targets` and returns the named
   * float32 outputs, each for the whole batch (image after image).
   *
   * @throws Error if the graph explained another class than asked for.
   */
  run(inputs: readonly Float32Array[], targets: readonly number[], outputs: readonly string[]): Promise<Float32Array[]>;
  /** Releases the session. */
  dispose(): Promise<void>;
}

/** Wraps an onnxruntime session of a compiled explainer (inputs {@link IO.input}, {@link IO.target}). */
export function explainerSession(session: ort.InferenceSession, desc: InputDescription): ExplainerSession {
  const shape = imageShape(desc);
  const per = shape[0] * shape[1] * shape[2];
  return {
    async run(inputs, targets, outputs) {
      if (inputs.length !== targets.length) throw new Error(`${inputs.length} images but ${targets.length} targets`);
      const batch = new Float32Array(inputs.length * per);
      inputs.forEach((x, i) => {
        if (x.length !== per) throw new Error(`image ${i}: ${x.length} values, the model takes ${shape.join('×')} (${desc.layout})`);
        batch.set(x, i * per);
      });
      const out = await session.run(
        {
          [IO.input]: new ort.Tensor('float32', batch, [inputs.length, ...shape]),
          [IO.target]: new ort.Tensor('int64', BigInt64Array.from(targets, (t) => BigInt(t)), [targets.length]),
        },
        [...outputs, IO.explainedClass],
      );
      const explained = out[IO.explainedClass]!.data as BigInt64Array;
      targets.forEach((t, i) => {
        if (Number(explained[i]) !== t) throw new Error(`explained class ${explained[i]} instead of ${t} (image ${i})`);
      });
      return outputs.map((name) => out[name]!.data as Float32Array);
    },
    async dispose() {
      await session.release();
    },
  };
}
