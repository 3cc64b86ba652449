// Hugging Face `tokenizers`' Node binding reports offsets in code points; Winnow (and JS strings) use
// UTF-16 code units. charToUtf16(text) returns the code-point -> UTF-16 conversion for `text` (offsets past
// its end count on one unit per code point, as the binding's do).
export function charToUtf16(text) {
  const map = [0];
  let u = 0;
  for (const ch of text) {
    u += ch.length;
    map.push(u);
  }
  return (c) => (c < map.length ? map[c] : u + (c - map.length + 1));
}
