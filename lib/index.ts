export { CrossEncoder } from './cross-encoder';
export type { CrossEncoderOptions, PredictOptions, RankOptions, RankResult, Activation, Device } from './cross-encoder';
export { Tokenizer } from './tokenizer';
export type { Encoding, EncodeOptions } from './tokenizer';
export type { Counters, CallOptions } from './queue';
export type { WinnowError, WinnowErrorCode } from './errors';
export { runtimeInfo } from './native';
export { Embeddings } from './embeddings';
export type { EmbeddingArray } from './embeddings';
