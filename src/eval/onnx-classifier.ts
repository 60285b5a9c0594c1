/**
 * A {@link Classifier} over any onnxruntime session whose graph maps a preprocessed image batch
 * to logits or probabilities — e.g. a torchvision model exported to ONNX, loaded as it is.
 */
import { imageShape, type InputDescription } from '../model/input.js';
import { ort } from '../runtime/session.js';
import { imageLength, softmaxRows, type Classifier } from './classifier.js';

export interface OnnxClassifierOptions {
  readonly inputDescription: InputDescription;
  /** Graph input name (default: the session's first input). */
  readonly input?: string;
  /** Graph output name (default: the session's first output). */
  readonly output?: string;
  /** What the output holds: `logits` (softmax applied here, the default) or `probabilities`. */
  readonly outputKind?: 'logits' | 'probabilities';
  /** Number of classes the output has per image. */
  readonly classes: number;
}

/** Wraps an onnxruntime session (N, …image) → (N, classes) as a {@link Classifier}. */
export class OnnxClassifier implements Classifier {
  readonly inputDescription: InputDescription;
  private readonly input: string;
  private readonly output: string;
  private readonly kind: 'logits' | 'probabilities';
  readonly classes: number;

  constructor(private readonly session: ort.InferenceSession, options: OnnxClassifierOptions) {
    this.inputDescription = options.inputDescription;
    this.input = options.input ?? session.inputNames[0]!;
    this.output = options.output ?? session.outputNames[0]!;
    this.kind = options.outputKind ?? 'logits';
    if (!Number.isInteger(options.classes) || options.classes < 1) throw new Error(`classes must be a positive integer, got ${String(options.classes)}`);
    this.classes = options.classes;
    if (!session.inputNames.includes(this.input)) throw new Error(`the ONNX model has no input "${this.input}" (inputs: ${session.inputNames.join(', ')})`);
    if (!session.outputNames.includes(this.output)) throw new Error(`the ONNX model has no output "${this.output}" (outputs: ${session.outputNames.join(', ')})`);
  }

  async probabilities(batch: Float32Array, count: number): Promise<Float32Array> {
    const per = imageLength(this.inputDescription);
    if (batch.length !== count * per) throw new Error(`classifier: ${batch.length} values for ${count} images of ${per}`);
    const out = await this.session.run({ [this.input]: new ort.Tensor('float32', batch, [count, ...imageShape(this.inputDescription)]) });
    const values = out[this.output]!.data as Float32Array;
    if (values.length !== count * this.classes) throw new Error(`classifier: output "${this.output}" has ${values.length / count} values per image, expected ${this.classes} classes`);
    return this.kind === 'logits' ? softmaxRows(values, count, this.classes) : values;
  }
}
