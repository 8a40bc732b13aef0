// Shared by the API's route modules: the error that becomes a JSON answer, the body bound.

/** Request bodies larger than this are refused with 413 before they are buffered whole. */
export const MAX_BODY_BYTES = 256 * 1024;

/** An error that becomes a JSON `{error}` response with its status code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
