import type { LayerParams } from '../model/layers.js';

/** Parameters of every layer of a layer list, keyed by layer name (Keras layouts, see {@link LayerParams}). */
export type LayerWeights = ReadonlyMap<string, LayerParams>;
