// Floating-point operations a BERT-shaped encoder needs for inputs of the given token lengths, without padding:
// per layer the linear layers 2·(4h² + 2h·ffn) per token plus attention 4·T²·h, then a head of `head` h×h layers
// (cross-encoder pooler) and the classifier. The roof (bench/roof.mjs) is measured on the same linear shapes.
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
  for (const T of lens) {
    linear += layers * T * linearPerToken;
    total += layers * (T * linearPerToken + 4 * T * T * h) + (head ? 2 * h * h + 2 * h * labels : 0);
  }
  return { total, linear, linearShare: linear / total };
}
