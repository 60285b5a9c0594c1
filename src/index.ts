/**
 * resnet-lrp: Layer-wise Relevance Propagation for image classifiers — any CNN in an ONNX file,
 * Keras ResNet files — with the conservation-preserving split at every addition (Otsuki et al.,
 * ECCV 2024), compiled into one ONNX graph with the forward pass.
 *
 * This entry holds what an application needs: load a model, explain, analyse an image, load
 * images, render figures, export the explainer and evaluate faithfulness, with their option and
 * result types. The graph, the compiler, the rule registry and the weight readers are behind
 * `resnet-lrp/advanced` (less stable).
 */
export { analyzeImage, figureTitle, type AnalyzeOptions, type AnalyzeResult } from './analyze.js';
export {
  LrpModel,
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
} from './lrp-model.js';
export {
  PRESETS, SPLIT_MODES, START_MODES, describeConfig,
  type LrpOptions, type PresetName, type SplitMode, type StartMode, type LayerRuleSpec,
} from './lrp/presets.js';
export type { RuleName, RuleSpec } from './lrp/rules.js';
export type { Precision } from './onnx/graph-builder.js';
export { IO } from './onnx/classifier.js';
export {
  CAFFE_INPUT, TORCHVISION_INPUT,
  type InputDescription, type InputLayout, type ChannelOrder, type ResizePolicy,
} from './model/input.js';
export { OnnxImportError, SUPPORTED_OPS } from './import/onnx.js';
export { imagenetLabels, readLabelsFile, topK, type ClassScore } from './model/labels.js';
export { loadImage, type LoadedImage, type LoadImageOptions, type FitMode } from './image/load.js';
export { quantizeHeat, DEFAULT_QUANTIZE_LEVELS } from './image/quantize.js';
export { colorize, COLORMAP_NAMES, type ColormapName } from './image/colormap.js';
export { renderFigure, renderHeatmap, writeFigure, writeHeatmap, type FigureOptions, type HeatmapOptions } from './image/figure.js';
export { encodeNpy, decodeNpy, readNpy, writeNpy } from './image/npy.js';
export type { SessionOptions } from './runtime/session.js';
export type { CompileCacheOptions } from './runtime/file-explainer-cache.js';
export { DEFAULT_MEMORY_BUDGET } from './runtime/memory.js';
export { DEFAULT_MAX_INPUT_PIXELS } from './runtime/input-checks.js';
export {
  evaluateInsertionDeletion,
  InsertionDeletionEvaluator,
  type EvaluatorOptions,
  type InsertionDeletionResult,
} from './eval/insertion-deletion.js';
export { INSDEL_DEFAULTS, TIE_RULES, type InsertionDeletionOptions, type TieRule } from './eval/patch-insdel.js';
export { classifierFromModel } from './eval/model-classifier.js';
export { methodNames, createMethod, conservationOf, type Attribution, type AttributionMethod } from './eval/methods.js';
export { contextFromModel } from './eval/model-context.js';
export { summarize, writeReport, type EvaluationReport, type MethodSummary } from './eval/report.js';
