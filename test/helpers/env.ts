// Test hooks read from the environment when a model loads (WINNOW_TEST_OOM_ABOVE_ROWS, WINNOW_TEST_CHUNK_ITEMS,
// WINNOW_TEST_OVERLAP, WINNOW_TEST_ATTENTION_SCALE, WINNOW_TEST_ATTENTION_AUTO_WIDTH, WINNOW_ATTENTION_PACK_QKV,
// WINNOW_WEIGHTS_IN_PLACE, WINNOW_EXACT_LAYER_NORM and WINNOW_IO_BINDING): set for the load only, so other models in the same worker are unaffected.
export async function withEnv<T>(vars: Record<string, number>, load: () => Promise<T>): Promise<T> {
  for (const [name, value] of Object.entries(vars)) process.env[name] = String(value);
  try {
    return await load();
  } finally {
    for (const name of Object.keys(vars)) delete process.env[name];
  }
}
