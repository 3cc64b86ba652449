// Errors the routes answer, with text-embeddings-inference's kinds and status codes.

/** TEI's error kinds, each with its status code (router/src/http/server.rs). */
export type ErrorType = 'Unhealthy' | 'Backend' | 'Overloaded' | 'Validation' | 'Tokenizer' | 'Empty' | 'Unauthorized' | 'NotFound';
const STATUS: Record<ErrorType, number> = {
  Unhealthy: 503, Backend: 424, Overloaded: 429, Validation: 413, Tokenizer: 422, Empty: 400, Unauthorized: 401, NotFound: 404,
};

/** An error answered with TEI's body `{ error, error_type }` (or the route family's own shape). */
export class HttpError extends Error {
  constructor(readonly type: ErrorType, message: string, readonly status = STATUS[type]) {
    super(message);
  }
}

