/**
 * A process loading the fixture model through the compile cache in `argv[2]` (for the
 * concurrent-writers test): prints the SHA-256 of its attribution map of the fixture input.
 */
import { createHash } from 'node:crypto';
import { LrpModel } from '../../src/lrp-model.js';
import { FIXTURE_WEIGHTS, fixtureInput } from './fixture.js';

const model = await LrpModel.load({ weights: FIXTURE_WEIGHTS, compileCache: { dir: process.argv[2]! } });
const { attribution } = await model.computeLrp(fixtureInput());
await model.dispose();
const data = attribution.data as Float32Array;
console.log(createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex'));
