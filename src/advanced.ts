/**
 * resnet-lrp/advanced: the parts below the application API, for building on the library — the
 * model graph and its importers, the compiler and the rule registry, the ONNX builder's
 * outputs, the weight readers and downloads, the evaluation's building blocks. Less stable than
 * the package entry: names here may change between minor versions.
 */
export * from './index.js';
export {
  DEFAULT_STABILIZER, STABILIZER_MODES, resolveLrpOptions, explainsPredictedOnly, type LrpConfig,
} from './lrp/presets.js';
export {
  RULES, RULE_DEFAULTS, ruleNames, describeRule,
  type Rule, type RuleKind, type LinearRule, type RuleTerm, type InputModifier, type ParamModifier,
  type Stabilizer, type StabilizerMode, type Reducer,
} from './lrp/rules.js';
export { assignRules, categoryOf, firstLayers, type AssignedRule, type OpCategory } from './lrp/composite.js';
export { compileExplainer, defaultTrace, tapOutputs, type CompiledExplainer, type ExplainerOptions, type ExplainerTensors } from './lrp/compiler.js';
export { compileForwardModel } from './onnx/classifier.js';
export { GraphIndex, classCount, inputShape, type GraphNode, type ModelGraph, type ModelWeights, type ParamTensor, type Shape, type TracePoint } from './graph/graph.js';
export { importOnnx, SUPPORTED_OPSETS, type ImportedModel, type OnnxImportOptions } from './import/onnx.js';
export { layersToGraph, convKernelToOnnx } from './import/keras.js';
export { buildResNet, kerasResNet50, kerasResNetSpec, type ResNetSpec } from './model/resnet.js';
export type { Layer, LayerGraph, LayerParams } from './model/layers.js';
export { IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, inputBounds, blackValues, preprocessRgb, imageShape } from './model/input.js';
export { classNames, companionLabels } from './model/labels.js';
export { caffePreprocess, caffeInputBounds, CAFFE_MEAN_BGR } from './image/preprocess.js';
export { figureZoom } from './image/figure.js';
export { readKerasH5, type KerasWeightFile } from './weights/keras-h5.js';
export { bindWeights, inferKerasResNet, type ClassifierHead } from './weights/bind.js';
export { randomWeights, randomModel } from './weights/random.js';
export type { LayerWeights } from './weights/types.js';
export { ensureImageNetWeights, downloadFile, DownloadError } from './weights/download.js';
export { weightsCacheDir, CACHE_DIR_ENV } from './weights/cache.js';
export { FileExplainerCache, compileCacheDir, NO_CACHE_ENV, DEFAULT_MAX_CACHE_BYTES } from './runtime/file-explainer-cache.js';
export { COMPILED_FORMAT, type ExplainerCache, type CachedExplainer } from './runtime/explainer-cache.js';
export { resnet50WeightsFile, RESNET50_FILE_NAMES } from './weights/imagenet.js';
export { modelSize, perTargetBytes, targetsPerRun, type ModelSize } from './runtime/memory.js';
export { DEFAULT_EVAL_BATCH, type EvaluatorStats } from './eval/insertion-deletion.js';
export { normalizedAuc, rankPatches, type TieStats } from './eval/patch-insdel.js';
export type { Classifier } from './eval/classifier.js';
export { OnnxClassifier, type OnnxClassifierOptions } from './eval/onnx-classifier.js';
export { METHODS, type MethodContext, type MethodEntry } from './eval/methods.js';
export { lrpMethod, type BatchLrpModel } from './eval/lrp-method.js';
export { randomMethod, type RandomMethodOptions } from './eval/random-method.js';
export { type ModelContextOptions } from './eval/model-context.js';
export { explainerSession, type ExplainerSession } from './eval/explainer-session.js';
export { gradientTimesInputMethod, guidedBackpropMethod, saliencyMethod } from './eval/gradient-methods.js';
export { integratedGradientsMethod, DEFAULT_IG_STEPS, type IntegratedGradientsOptions } from './eval/integrated-gradients.js';
export { gradcamMethod, gradcamNode, lastSpatialNode } from './eval/gradcam.js';
export { evaluateImage, type MethodOutcome } from './eval/evaluate-image.js';
export { imagenetWnids, parseClassName, readLabelFile, labelOf } from './eval/labels.js';
export { bootstrapCi, type ClassSummary, type PairedDifference } from './eval/report.js';
export type { EvaluationRecord, RunInfo, RunSettings } from './eval/records.js';
