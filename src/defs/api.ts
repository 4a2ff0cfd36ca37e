/** Shapes of the HTTP API that both the server and the viewer page use. */

/** An enrolled person, as the gallery lists them. */
export interface Person {
  id: number;
  name: string;
  createdAt: number;
  photos: number;
  /** Photos with an embedding in the current space. */
  embedded: number;
}

/** GET /api/people: a person with the address of their thumbnail. */
export interface PersonEntry extends Person {
  thumbnail_url: string;
}
