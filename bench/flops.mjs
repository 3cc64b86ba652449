// Floating-point operations a BERT-shaped encoder needs for inputs of the given token lengths, without padding:
// per layer the linear layers 2·(4h² + 2h·ffn) per token plus attention 4·T²·h, then a head of `head` h×h layers
// (cross-encoder pooler) and the classifier. A classifier reads the first token alone, so its last layer needs
// K and V of every token but Q, attention, the output projection and the FFN of that token only. The roof
// (bench/roof.mjs) is measured on the same linear shapes.
export function encoderShape(config) {
  return {
    h: config.hidden_size,
    ffn: config.intermediate_size,
    layers: config.num_hidden_layers,
    labels: Object.keys(config.id2label ?? { 0: 0 }).length,
  };
}

export function encoderFlops(shape, lens, { head = true } = {}) {
  const { h, ffn, layers, labels } = shape;
  const linearPerToken = 2 * (4 * h * h + 2 * h * ffn);
  let total = 0, linear = 0;
  // The last layer of a classifier: K and V of T tokens, Q, attention, output projection and FFN of one.
  const lastLinear = (T) => (head ? 2 * (2 * h * h * T + 2 * h * h + 2 * h * ffn) : T * linearPerToken);
  const lastAttention = (T) => (head ? 4 * T * h : 4 * T * T * h);
  for (const T of lens) {
    const l = (layers - 1) * T * linearPerToken + lastLinear(T);
    linear += l;
    total += l + (layers - 1) * 4 * T * T * h + lastAttention(T) + (head ? 2 * h * h + 2 * h * labels : 0);
  }
  return { total, linear, linearShare: linear / total };
}
