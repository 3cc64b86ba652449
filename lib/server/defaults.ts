/** The server's limits when not set: text-embeddings-inference's defaults. */
export const DEFAULTS = { maxConcurrentRequests: 512, maxClientBatchSize: 32, payloadLimit: 2_000_000 } as const;
