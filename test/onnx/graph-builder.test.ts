import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnnxGraphBuilder } from '../../src/onnx/graph-builder.js';

test('uniqueName: base, then base_2, base_3, … skipping names taken otherwise', () => {
  const g = new OnnxGraphBuilder('names');
  assert.equal(g.uniqueName('x'), 'x');
  assert.equal(g.uniqueName('x'), 'x_2');
  g.input('x_3', 'float32', [1]);
  assert.equal(g.uniqueName('x'), 'x_4');
  assert.equal(g.uniqueName('x_2'), 'x_2_2');
  assert.equal(g.uniqueName('y'), 'y');
  assert.equal(g.uniqueName('x'), 'x_5');
});

test('uniqueName gives what the first free suffix counted from 2 gives, for any order of requests', () => {
  // The plain definition, as a reference: the smallest i ≥ 2 with base_i free.
  const used = new Set<string>();
  const reference = (base: string): string => {
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const g = new OnnxGraphBuilder('names');
  let state = 7;
  for (let k = 0; k < 3000; k++) {
    state = (state * 1103515245 + 12345) >>> 0;
    // Bases that collide with each other's suffixed names (a, a_2, a_2_3, …).
    const base = ['a', 'a_2', 'a_3', 'b', 'a_2_2'][state % 5]!;
    if (state % 11 === 0) {
      const explicit = `${base}_${(state >> 8) % 40}`;
      if (!used.has(explicit)) {
        used.add(explicit);
        g.input(explicit, 'float32', [1]);
      }
      continue;
    }
    assert.equal(g.uniqueName(base), reference(base), `request ${k} for "${base}"`);
  }
});
