// Benchmark trials as data. One fresh `node` process runs each (driver, trial).
// model: folder under bench/models (hub layout); file: ONNX file in <model>/onnx/.
// pairs: how many (query, document) pairs predictPairs() scores; rankDocs: documents per rank() call.
// reps: timed repetitions after `warmup` untimed ones (sized for a 2-core machine: a few minutes in all).
export const common = { model: 'minilm-ce', pairs: 512, perQuery: 16, rankDocs: 100, batch: 32, threads: 2, maxLength: 512 };

export const trials = [
  { name: 'minilm-ce fp32', ...common, file: 'model.onnx', dtype: 'fp32', warmup: 1, pairReps: 2, rankReps: 5 },
  { name: 'minilm-ce int8', ...common, file: 'model_quantized.onnx', dtype: 'q8', warmup: 1, pairReps: 2, rankReps: 5 },
];

export const drivers = ['winnow', 'transformers', 'ort-tokenizers'];
