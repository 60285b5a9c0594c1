/**
 * resnet-lrp: Layer-wise Relevance Propagation for ResNets (Keras files, torchvision models
 * exported to ONNX) with the conservation-preserving skip-connection split (Otsuki et al.,
 * ECCV 2024), compiled into one ONNX graph.
 */
export { analyzeImage, figureTitle, type AnalyzeOptions, type AnalyzeResult } from './analyze.js';
export {
  LrpResNet,
  LrpResNet50,
  type ExportOptions,
  type LoadOptions,
  type LrpBatchOptions,
  type LrpCallOptions,
  type LrpClassesOptions,
  type LrpResult,
  type ModelInfo,
  type ModelInput,
  type Prediction,
  type WeightsSource,
} from './lrp-resnet.js';
export {
  PRESETS, DEFAULT_STABILIZER, SPLIT_MODES, START_MODES, STABILIZER_MODES, resolveLrpOptions, describeConfig,
  type LrpOptions, type LrpConfig, type PresetName, type SplitMode, type StartMode, type LayerRuleSpec,
} from './lrp/presets.js';
export {
  RULES, RULE_DEFAULTS, ruleNames, describeRule,
  type Rule, type RuleName, type RuleSpec, type RuleKind, type LinearRule, type RuleTerm, type InputModifier, type ParamModifier,
  type Stabilizer, type StabilizerMode, type Reducer,
} from './lrp/rules.js';
export { compileExplainer, tapOutputs, type CompiledExplainer, type ExplainerOptions, type ExplainerTensors } from './lrp/compiler.js';
export { compileForwardModel, IO } from './onnx/classifier.js';
export type { Precision } from './onnx/graph-builder.js';
export { buildResNet, kerasResNet50, kerasResNetSpec, type ResNetSpec } from './model/resnet.js';
export type { Layer, LayerParams, ModelGraph, ParamTensor } from './model/graph.js';
export {
  CAFFE_INPUT, TORCHVISION_INPUT, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, inputBounds, blackValues, preprocessRgb, imageShape,
  type InputDescription, type InputLayout, type ChannelOrder, type ResizePolicy,
} from './model/input.js';
export { importOnnxResNet, OnnxImportError, type ImportedResNet, type OnnxImportOptions } from './model/onnx-import.js';
export { classNames, imagenetLabels, readLabelsFile, topK, type ClassScore } from './model/labels.js';
export { loadImage, type LoadedImage, type LoadImageOptions, type FitMode } from './image/load.js';
export { caffePreprocess, caffeInputBounds, CAFFE_MEAN_BGR } from './image/preprocess.js';
export { quantizeHeat, DEFAULT_QUANTIZE_LEVELS } from './image/quantize.js';
export { colorize, COLORMAP_NAMES, type ColormapName } from './image/colormap.js';
export { renderFigure, renderHeatmap, writeFigure, writeHeatmap, type FigureOptions, type HeatmapOptions } from './image/figure.js';
export { encodeNpy, decodeNpy, readNpy, writeNpy } from './image/npy.js';
export { readKerasH5, type KerasWeightFile } from './weights/keras-h5.js';
export { bindWeights, inferKerasResNet, type ClassifierHead } from './weights/bind.js';
export { randomWeights } from './weights/random.js';
export { ensureImageNetWeights, downloadFile, DownloadError } from './weights/download.js';
export { weightsCacheDir, CACHE_DIR_ENV } from './weights/cache.js';
export { FileExplainerCache, compileCacheDir, NO_CACHE_ENV, DEFAULT_MAX_CACHE_BYTES, type CompileCacheOptions } from './runtime/file-explainer-cache.js';
export { COMPILED_FORMAT, type ExplainerCache, type CachedExplainer } from './runtime/explainer-cache.js';
export { resnet50WeightsFile, RESNET50_FILE_NAMES } from './weights/imagenet.js';
export type { SessionOptions } from './runtime/session.js';
export {
  evaluateInsertionDeletion,
  InsertionDeletionEvaluator,
  DEFAULT_EVAL_BATCH,
  type EvaluatorOptions,
  type EvaluatorStats,
  type InsertionDeletionResult,
} from './eval/insertion-deletion.js';
export { INSDEL_DEFAULTS, normalizedAuc, rankPatches, type InsertionDeletionOptions } from './eval/patch-insdel.js';
export type { Classifier } from './eval/classifier.js';
export { OnnxClassifier, type OnnxClassifierOptions } from './eval/onnx-classifier.js';
export { classifierFromModel } from './eval/model-classifier.js';
export { METHODS, methodNames, createMethod, type Attribution, type AttributionMethod, type MethodContext, type MethodEntry } from './eval/methods.js';
export { lrpMethod, type LrpModel } from './eval/lrp-method.js';
export { randomMethod, type RandomMethodOptions } from './eval/random-method.js';
export { contextFromModel, type ModelContextOptions } from './eval/model-context.js';
export { explainerSession, type ExplainerSession } from './eval/explainer-session.js';
export { gradientTimesInputMethod, guidedBackpropMethod, saliencyMethod } from './eval/gradient-methods.js';
export { integratedGradientsMethod, DEFAULT_IG_STEPS, type IntegratedGradientsOptions } from './eval/integrated-gradients.js';
export { gradcamMethod, lastStageLayer } from './eval/gradcam.js';
export { evaluateImage, type MethodOutcome } from './eval/evaluate-image.js';
export { imagenetWnids, parseClassName, readLabelFile, labelOf } from './eval/labels.js';
export { summarize, writeReport, type EvaluationReport, type MethodSummary, type ClassSummary } from './eval/report.js';
export type { EvaluationRecord, RunInfo, RunSettings } from './eval/records.js';
