/**
 * The page: pick a model and an image, see the top-5 classes, explain one, and look at input /
 * relevance / overlay, the colour scale and the conservation trace. Everything runs here, in
 * the browser (onnxruntime-web); the files never leave the machine. Reading models, compiling,
 * decoding and the runs happen in a Web Worker (src/web/worker.ts): this thread only draws, so
 * the page answers while a model compiles. It imports no onnxruntime or h5wasm itself.
 */
import { COLORMAP_NAMES, type ColormapName } from '../image/colormap.js';
import type { FitMode } from '../image/resize.js';
import { blendOverlay, colorbarPixels, formatScaleValue, heatmapPixels } from '../image/figure-parts.js';
import { encodeNpy } from '../image/npy-codec.js';
import { DEFAULT_QUANTIZE_LEVELS } from '../image/quantize.js';
import { traceChartSvg } from '../image/trace-chart.js';
import { PRESETS, SPLIT_MODES, explainsPredictedOnly, type LrpOptions, type PresetName } from '../lrp/presets.js';
import type { LrpResult } from '../runtime/types.js';
import { rankClasses } from '../model/top-k.js';
import { renderFigureCanvas, rgbToImageData, type WebImage } from './image.js';
import type { LoadProgress } from './index.js';
import { ExplainerWorker, RemoteLrpModel } from './worker-client.js';
import cifarLabels from '../../assets/models/cifar10-resnet20.labels.json' with { type: 'json' };

/** A model the page ships: where, its name on the page, its class names, how images are fitted to it. */
interface BundledModelSpec {
  readonly url: string;
  readonly label: string;
  readonly labels?: readonly string[];
  readonly fit?: FitMode;
}

/** The models the page ships (the values of the model menu); every sample belongs to one. */
const BUNDLED_MODELS: Readonly<Record<'reference' | 'cifar10', BundledModelSpec>> = {
  reference: { url: 'assets/models/resnet50-w8.h5', label: 'resnet50-w8.h5 (bundled reference model)' },
  // CIFAR-10 images are the input size already: resized (a no-op at 32×32), never cropped.
  cifar10: { url: 'assets/models/cifar10-resnet20.onnx', label: 'cifar10-resnet20.onnx (bundled, trained on CIFAR-10)', labels: cifarLabels as string[], fit: 'resize' },
};
type BundledModel = keyof typeof BUNDLED_MODELS;
const isBundled = (value: string): value is BundledModel => Object.hasOwn(BUNDLED_MODELS, value);

/** The sample gallery: the ImageNet photos, then one CIFAR-10 test image per class. */
const SAMPLES: readonly { file: string; caption: string; model: BundledModel }[] = [
  ...['chelsea.png', 'astronaut.png', 'coffee.png', 'rocket.jpg'].map((file) => ({ file, caption: file, model: 'reference' as const })),
  ...(cifarLabels as string[]).map((name) => ({ file: `cifar10/${name}-0000.jpg`, caption: `${name} (CIFAR-10)`, model: 'cifar10' as const })),
];

/** What the page explains when it opens (a static host; `serve --weights` names its own model). */
const DEFAULT_SAMPLE = SAMPLES.find((s) => s.file === 'cifar10/cat-0000.jpg')!;

/**
 * The bundled model to switch to before explaining `sample`: a CIFAR-10 image needs the CIFAR
 * model; a photo leaves a model of the user's (file, URL, served) in place, as it may well be
 * an ImageNet one, but not the CIFAR model. Undefined: keep the current model.
 */
function modelForSample(sample: (typeof SAMPLES)[number], current: BundledModel | undefined): BundledModel | undefined {
  if (current === sample.model || (current === undefined && sample.model === 'reference')) return undefined;
  return sample.model;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  source: $<HTMLSelectElement>('model-source'),
  fileRow: $('model-file-row'),
  file: $<HTMLInputElement>('model-file'),
  urlRow: $<HTMLFormElement>('model-url-row'),
  url: $<HTMLInputElement>('model-url'),
  preset: $<HTMLSelectElement>('preset'),
  split: $<HTMLSelectElement>('split'),
  presetDescription: $('preset-description'),
  progress: $<HTMLProgressElement>('progress'),
  status: $('status'),
  dropzone: $('dropzone'),
  imageFile: $<HTMLInputElement>('image-file'),
  samples: $('samples'),
  error: $('error'),
  prediction: $('prediction'),
  top5: $('top5'),
  explanation: $('explanation'),
  explainedClass: $('explained-class'),
  panels: [$<HTMLCanvasElement>('panel-input'), $<HTMLCanvasElement>('panel-relevance'), $<HTMLCanvasElement>('panel-overlay')] as const,
  colorbar: $<HTMLCanvasElement>('colorbar'),
  tickLow: $('tick-low'),
  tickMid: $('tick-mid'),
  tickHigh: $('tick-high'),
  levels: $<HTMLInputElement>('levels'),
  levelsValue: $<HTMLOutputElement>('levels-value'),
  colormap: $<HTMLSelectElement>('colormap'),
  conservation: $('conservation'),
  downloadPng: $<HTMLButtonElement>('download-png'),
  downloadNpy: $<HTMLButtonElement>('download-npy'),
  trace: $('trace-chart'),
};

const worker = new ExplainerWorker();

/** What the page holds (the model itself lives in the worker). */
const state: {
  model?: RemoteLrpModel;
  /** Which bundled model `model` is; undefined for the user's own. */
  bundled?: BundledModel;
  /** The decoded image and its file (decoded again when a model with another input comes). */
  image?: WebImage & { name: string; source: Blob };
  result?: LrpResult;
} = {};

/** Runs one task at a time (a model load or an explanation); errors go to the page. */
let queue: Promise<void> = Promise.resolve();
function run(task: () => Promise<void>): Promise<void> {
  queue = queue.then(async () => {
    document.body.dataset.busy = 'true';
    try {
      await task();
    } catch (err) {
      showError(err);
    } finally {
      delete document.body.dataset.busy;
    }
  });
  return queue;
}

function showError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  ui.error.textContent = message;
  ui.error.hidden = false;
  setStatus(state.model ? `Model ready: ${state.model.info.weights}` : 'No model loaded.');
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

function setStatus(text: string, progress?: number | 'busy'): void {
  ui.status.textContent = text;
  ui.progress.hidden = progress === undefined;
  if (progress === 'busy') ui.progress.removeAttribute('value');
  else if (progress !== undefined) ui.progress.value = progress;
}

function rules(): LrpOptions {
  return { preset: ui.preset.value as PresetName, split: ui.split.value as LrpOptions['split'] };
}

// ---------------------------------------------------------------------------------------
// Model

async function fetchModel(url: string, label: string, bundled?: BundledModel): Promise<void> {
  const started = performance.now();
  await compileModel(url, label, bundled);
  const { numThreads, crossOriginIsolated } = state.model!.runtime;
  console.info(`model ${label} ready in ${Math.round(performance.now() - started)} ms (worker: ${numThreads} threads, ${crossOriginIsolated ? '' : 'not '}cross-origin isolated)`);
}

/** Loads a bundled model and selects it in the model menu (only once it is loaded). */
async function loadBundled(id: BundledModel): Promise<void> {
  const { url, label } = BUNDLED_MODELS[id];
  await fetchModel(url, label, id);
  ui.source.value = id;
}

/**
 * Loads and compiles a model from a URL, a File, or the file of the current model (new rules);
 * keeps the old one on failure. `bundled`: which bundled model the URL is (its class names and fit).
 */
async function compileModel(source: string | Blob | RemoteLrpModel, label: string, bundled?: BundledModel): Promise<void> {
  const labels = bundled && BUNDLED_MODELS[bundled].labels;
  clearError();
  const onProgress = (p: LoadProgress): void => {
    if (p.stage === 'download') setStatus(`Downloading ${label}: ${(p.received / 1e6).toFixed(1)} MB${p.total ? ` of ${(p.total / 1e6).toFixed(1)} MB` : ''}`, p.total ? p.received / p.total : 'busy');
    else if (p.stage === 'read') setStatus(`Reading the weights of ${label}…`, 'busy');
    else setStatus('Compiling the explainer (forward + LRP in one ONNX graph)…', 'busy');
  };
  setStatus(`Loading ${label}…`, 'busy');
  // The worker keeps the file's bytes: changing the rules recompiles without reading it again.
  const model = source instanceof RemoteLrpModel
    ? await source.withRules(rules(), onProgress)
    : await worker.loadModel({ weights: source, label, rules: rules(), onProgress, ...(labels ? { labels } : {}) });
  const old = state.model;
  state.model = model;
  if (!(source instanceof RemoteLrpModel)) state.bundled = bundled;
  await old?.dispose();
  setStatus(`Model ready: ${label} — ${model.info.architecture}, ${model.info.classes} classes, ${model.info.rules}`);
  // Decoded again: another model may take another input size or preprocessing.
  if (state.image) await openImage(state.image.source, state.image.name);
}

// ---------------------------------------------------------------------------------------
// Image and explanation

async function openImage(source: Blob, name: string): Promise<void> {
  clearError();
  if (!state.model) throw new Error('No model is loaded yet: choose a model first.');
  setStatus(`Decoding ${name}…`, 'busy');
  const fit = state.bundled && BUNDLED_MODELS[state.bundled].fit;
  const image = await worker.decodeImage(source, state.model.inputDescription, { name, ...(fit ? { fit } : {}) });
  state.image = { ...image, name, source };
  await explain();
}

async function explain(classIndex?: number): Promise<void> {
  const { model, image } = state;
  if (!model || !image) return;
  clearError();
  setStatus(`Explaining ${image.name}…`, 'busy');
  const started = performance.now();
  const result = await model.computeLrp(image.input, { ...(classIndex === undefined ? {} : { classIndex }), debug: true });
  const ms = Math.round(performance.now() - started);
  state.result = result;
  showPrediction(result);
  render();
  showTrace(result);
  setStatus(`Explained ${image.name} in ${ms} ms (${model.info.weights}).`);
}

function showPrediction(result: LrpResult): void {
  const model = state.model!;
  const predictedOnly = explainsPredictedOnly(model.config);
  const top = rankClasses(result.probabilities, Math.min(5, model.info.classes), model.classNames);
  ui.top5.replaceChildren(...top.map(({ classIndex, className, probability }) => {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.classIndex = String(classIndex);
    button.setAttribute('aria-pressed', String(classIndex === result.targetClass));
    const name = document.createElement('span');
    name.className = 'class-name';
    name.textContent = `${className} (${classIndex})`;
    const p = document.createElement('span');
    p.textContent = `${(probability * 100).toFixed(1)} %`;
    button.append(name, p);
    if (predictedOnly && classIndex !== result.classIndex) {
      button.disabled = true;
      button.title = `the "${model.config.start}" start explains the predicted class only`;
    }
    button.addEventListener('click', () => void run(() => explain(classIndex)));
    item.append(button);
    return item;
  }));
  ui.prediction.hidden = false;
  const target = result.targetClass;
  ui.explainedClass.textContent = `${model.classNames[target]} (${target})`;
  ui.explanation.hidden = false;
}

function heatStyle(): { quantize: number | false; colormap: ColormapName } {
  const levels = Number(ui.levels.value);
  return { quantize: levels >= 2 ? levels : false, colormap: ui.colormap.value as ColormapName };
}

/** Draws the three panels and the colour bar (again, when levels or colormap change). */
function render(): void {
  const { image, result } = state;
  ui.levelsValue.textContent = Number(ui.levels.value) >= 2 ? ui.levels.value : 'off';
  if (!image || !result) return;
  const { width, height } = image;
  const heat = heatmapPixels(result.attribution.data, width, height, heatStyle());
  const overlay = blendOverlay(image.rgb, heat.rgb);
  [image.rgb, heat.rgb, overlay].forEach((rgb, i) => {
    const canvas = ui.panels[i]!;
    canvas.width = width;
    canvas.height = height;
    canvas.getContext('2d')!.putImageData(rgbToImageData(rgb, width, height), 0, 0);
  });
  const bar = ui.colorbar;
  bar.getContext('2d')!.putImageData(rgbToImageData(colorbarPixels(heat.colormap, heat.positiveOnly, bar.width, bar.height), bar.width, bar.height), 0, 0);
  const max = formatScaleValue(heat.vmax);
  ui.tickLow.textContent = heat.positiveOnly ? '0' : `−${max}`;
  ui.tickMid.textContent = heat.positiveOnly ? '' : '0';
  ui.tickHigh.textContent = `+${max}`;
}

function showTrace(result: LrpResult): void {
  ui.trace.innerHTML = traceChartSvg({ trace: result.trace!, title: `${state.image!.name}: ${state.model!.classNames[result.targetClass]}` });
  ui.conservation.textContent = `Relevance at the start ${formatScaleValue(result.startRelevance)}; sum over the input ${formatScaleValue(result.attribution.data.reduce((a, b) => a + b, 0))}; conservation error ${(result.conservationError! * 100).toFixed(3)} %.`;
}

function baseName(): string {
  return (state.image?.name ?? 'image').replace(/\.[^.]*$/, '') + '-lrp';
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function downloadFigure(): Promise<void> {
  const { image, result, model } = state;
  if (!image || !result || !model) return;
  const p = result.probabilities[result.targetClass]!;
  const canvas = await renderFigureCanvas({
    image, attribution: result.attribution.data, ...heatStyle(),
    title: `${model.classNames[result.targetClass]} (${result.targetClass}) — ${(p * 100).toFixed(1)} %`,
  });
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the browser could not encode the figure as PNG');
  download(blob, `${baseName()}.png`);
}

function downloadMap(): void {
  const { result } = state;
  if (!result) return;
  const bytes = encodeNpy(result.attribution.data, result.attribution.shape);
  download(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), `${baseName()}.npy`);
}

// ---------------------------------------------------------------------------------------
// Wiring

function fillSelect(select: HTMLSelectElement, values: readonly string[], chosen: string, describe: (v: string) => string = (v) => v): void {
  select.replaceChildren(...values.map((v) => new Option(describe(v), v, v === chosen, v === chosen)));
}

function syncSplit(): void {
  const preset = PRESETS[ui.preset.value as PresetName];
  ui.split.value = preset.split;
  ui.presetDescription.textContent = preset.description;
}

function recompile(): void {
  // Queued: by its turn, the model may be another one.
  void run(async () => {
    if (state.model) await compileModel(state.model, state.model.info.weights);
  });
}

/** Loads a sample image and explains it, switching to the bundled model it belongs to first. */
async function explainSample(sample: (typeof SAMPLES)[number]): Promise<void> {
  const name = sample.file.slice(sample.file.lastIndexOf('/') + 1);
  const response = await fetch(`assets/samples/${sample.file}`);
  if (!response.ok) throw new Error(`${name}: cannot be loaded (HTTP ${response.status})`);
  const blob = await response.blob();
  const model = modelForSample(sample, state.bundled);
  if (model) {
    // The current image is not explained again on the way (the sample follows), but stays if the model fails.
    const previous = state.image;
    state.image = undefined;
    try {
      await loadBundled(model);
    } catch (error) {
      state.image = previous;
      throw error;
    }
  }
  await openImage(blob, name);
}

function init(): void {
  fillSelect(ui.preset, Object.keys(PRESETS), 'default');
  fillSelect(ui.split, SPLIT_MODES, PRESETS.default.split);
  fillSelect(ui.colormap, COLORMAP_NAMES, 'bwr');
  ui.levels.value = String(DEFAULT_QUANTIZE_LEVELS);
  syncSplit();
  ui.preset.addEventListener('change', () => {
    syncSplit();
    recompile();
  });
  ui.split.addEventListener('change', recompile);
  ui.levels.addEventListener('input', () => render());
  ui.colormap.addEventListener('change', () => render());

  ui.source.addEventListener('change', () => {
    ui.fileRow.hidden = ui.source.value !== 'file';
    ui.urlRow.hidden = ui.source.value !== 'url';
    const value = ui.source.value;
    if (isBundled(value)) void run(() => loadBundled(value));
    else if (value === 'file') ui.file.focus();
    else if (value === 'url') ui.url.focus();
  });
  ui.file.addEventListener('change', () => {
    const file = ui.file.files?.[0];
    if (file) void run(() => compileModel(file, file.name));
  });
  ui.urlRow.addEventListener('submit', (event) => {
    event.preventDefault();
    const url = ui.url.value.trim() || ui.url.placeholder;
    void run(() => fetchModel(url, url));
  });

  ui.imageFile.addEventListener('change', () => {
    const file = ui.imageFile.files?.[0];
    if (file) void run(() => openImage(file, file.name));
    ui.imageFile.value = '';
  });
  ui.dropzone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      ui.imageFile.click();
    }
  });
  ui.dropzone.addEventListener('dragover', (event) => {
    event.preventDefault();
    ui.dropzone.classList.add('dragging');
  });
  ui.dropzone.addEventListener('dragleave', () => ui.dropzone.classList.remove('dragging'));
  ui.dropzone.addEventListener('drop', (event) => {
    event.preventDefault();
    ui.dropzone.classList.remove('dragging');
    const file = event.dataTransfer?.files[0];
    if (file) void run(() => openImage(file, file.name));
  });

  ui.samples.replaceChildren(...SAMPLES.map((sample) => {
    const { file, caption: text } = sample;
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.sample = file;
    button.dataset.model = sample.model;
    const img = document.createElement('img');
    img.src = `assets/samples/${file}`;
    img.alt = '';
    const caption = document.createElement('span');
    caption.textContent = text;
    button.append(img, caption);
    button.setAttribute('aria-label', `Explain the sample ${sample.model === 'cifar10' ? 'CIFAR-10 image' : 'photo'} ${text}`);
    button.addEventListener('click', () => void run(() => explainSample(sample)));
    item.append(button);
    return item;
  }));

  ui.downloadPng.addEventListener('click', () => void run(downloadFigure));
  ui.downloadNpy.addEventListener('click', () => void run(async () => downloadMap()));

  // `resnet-lrp serve --weights file` names its model in config.json; a static host has none.
  void run(async () => {
    const config = await fetch('config.json').then((r) => (r.ok ? r.json() as Promise<{ model?: { url: string; label: string } }> : {})).catch(() => ({}));
    const model = (config as { model?: { url: string; label: string } }).model;
    if (model) {
      const option = new Option(`${model.label} (from resnet-lrp serve)`, 'served', true, true);
      ui.source.prepend(option);
      ui.source.addEventListener('change', () => {
        if (ui.source.value === 'served') void run(() => fetchModel(model.url, model.label));
      });
      await fetchModel(model.url, model.label);
    } else {
      // A static host: the trained CIFAR-10 model explains one of its test images right away.
      await explainSample(DEFAULT_SAMPLE);
    }
  });
}

init();
