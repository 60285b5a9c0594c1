import type { LayerParams } from '../model/graph.js';

/** Parameters of every layer that has them, keyed by layer name (Keras layouts, see {@link LayerParams}). */
export type ModelWeights = ReadonlyMap<string, LayerParams>;
