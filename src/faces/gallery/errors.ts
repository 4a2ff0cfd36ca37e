/** A request the gallery refuses: the message says why; `status` is the HTTP status. */
export class GalleryError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'GalleryError';
  }
}
