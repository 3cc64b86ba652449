/** The error a call throws or rejects with (fails the test when it does not). */
export async function errorOf(f: () => unknown): Promise<Error & { code?: string }> {
  try {
    await f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}
