/**
 * Error replies as RFC 9457 problem details (application/problem+json). `detail` is the message
 * Vigil has always answered; `error` repeats it, so clients that read `.error` keep working.
 */
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';

export const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** The problem document of every error reply (also its schema in the OpenAPI document). */
export const Problem = z
  .object({
    type: z.string().describe('"about:blank": the status says what kind of problem it is'),
    title: z.string().describe("the status's reason phrase"),
    status: z.number().int().describe('the HTTP status'),
    detail: z.string().describe('what was wrong, naming the parameter, key or setting'),
    error: z.string().describe('the same message as detail'),
  })
  .describe('An error (RFC 9457 problem details)');
export type Problem = z.infer<typeof Problem>;

export function problemBody(status: number, message: string): Problem {
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: message,
    error: message,
  };
}

/** An error reply (a Reply of api-router.ts). */
export function problem(status: number, message: string): { status: number; json: Problem; type: string } {
  return { status, json: problemBody(status, message), type: PROBLEM_TYPE };
}
