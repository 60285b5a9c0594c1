/**
 * resnet-lrp: Layer-wise Relevance Propagation for ResNet50 with the conservation-preserving
 * skip-connection split (Otsuki et al., ECCV 2024), compiled into one ONNX graph.
 */
export { analyzeImage, figureTitle, type AnalyzeOptions, type AnalyzeResult } from './analyze.js';
export {
  LrpResNet50,
  type LoadOptions,
  type LrpBatchOptions,
  type LrpCallOptions,
  type LrpResult,
  type ModelInfo,
  type ModelInput,
  type Prediction,
  type WeightsSource,
} from './lrp-resnet50.js';
export {
  PRESETS, DEFAULT_STABILIZER, SPLIT_MODES, START_MODES, STABILIZER_MODES, resolveLrpOptions, describeConfig,
  type LrpOptions, type LrpConfig, type PresetName, type SplitMode, type StartMode, type LayerRuleSpec,
} from './lrp/presets.js';
export {
  RULES, RULE_DEFAULTS, ruleNames, describeRule,
  type Rule, type RuleName, type RuleSpec, type RuleKind, type LinearRule, type RuleTerm, type InputModifier, type ParamModifier,
  type Stabilizer, type StabilizerMode, type Reducer,
} from './lrp/rules.js';
export { compileExplainer, type CompiledExplainer } from './lrp/compiler.js';
export { compileForwardModel, IO } from './onnx/classifier.js';
export type { Precision } from './onnx/graph-builder.js';
export { buildResNet, kerasResNet50, kerasResNetSpec, type ResNetSpec } from './model/resnet.js';
export type { Layer, LayerParams, ModelGraph, ParamTensor } from './model/graph.js';
export { classNames, imagenetLabels, topK, type ClassScore } from './model/labels.js';
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
export { resnet50WeightsFile, RESNET50_FILE_NAMES } from './weights/imagenet.js';
export type { SessionOptions } from './runtime/session.js';
