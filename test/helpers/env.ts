// Test hooks read from the environment when a model loads (WINNOW_TEST_OOM_ABOVE_ROWS, WINNOW_TEST_CHUNK_ITEMS):
// set for the load only, so other models in the same worker are unaffected.
export async function withEnv<T>(name: string, value: number, load: () => Promise<T>): Promise<T> {
  process.env[name] = String(value);
  try {
    return await load();
  } finally {
    delete process.env[name];
  }
}
