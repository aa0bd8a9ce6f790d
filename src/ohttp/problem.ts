/**
 * Problem details (RFC 9457) for the errors of RFC 9458 §5.2: what an endpoint answers, unencrypted, when it cannot
 * remove (or, at the relay, never sees inside) the encapsulation. Errors found after decapsulation are answered
 * inside an encapsulated response instead ({@link problemResponse}).
 */
import type { ServerResponse } from "node:http";
import { MEDIA_TYPES, PROBLEM_TYPES } from "./constants";
import {
  OhttpDecryptionError,
  OhttpMalformedError,
  OhttpReplayError,
  OhttpTooLargeError,
  OhttpTruncatedError,
  OhttpUnknownKeyError,
  OhttpUnsupportedError,
} from "./errors";

/** A problem: the status, an optional registered type, a title, and a detail without any message content. */
export interface Problem {
  status: number;
  type?: string;
  title: string;
  detail?: string;
}

/**
 * The unencrypted answer to an error raised while reading or decapsulating a request. Unknown keys and unusable
 * key configurations carry the `ohttp-key` problem type (RFC 9458 §5.3, with the status and title of its Figure 7)
 * so the client refreshes its configuration; a request the key cannot open is 422 (§6.4).
 * @example if (!res.headersSent) writeProblem(res, problemOf(error));
 */
export function problemOf(error: unknown): Problem {
  const detail = (error as { shortMessage?: string }).shortMessage;
  if (error instanceof OhttpUnknownKeyError)
    return { status: 400, type: PROBLEM_TYPES.key, title: "key identifier unknown", detail };
  if (error instanceof OhttpUnsupportedError)
    return { status: 400, type: PROBLEM_TYPES.key, title: "key configuration not supported", detail };
  if (error instanceof OhttpDecryptionError)
    return { status: 422, type: PROBLEM_TYPES.key, title: "encapsulated request cannot be decrypted", detail };
  if (error instanceof OhttpTruncatedError) return { status: 400, title: "encapsulated request truncated", detail };
  if (error instanceof OhttpTooLargeError) return { status: 413, title: "content too large", detail };
  if (error instanceof OhttpMalformedError) return { status: 400, title: "malformed encapsulated request", detail };
  if (error instanceof OhttpReplayError) return { status: 400, title: "replayed request", detail };
  return { status: 500, title: "internal error" };
}

/** The JSON body of `problem`. */
export function problemBody(problem: Problem): string {
  return JSON.stringify({
    ...(problem.type === undefined ? {} : { type: problem.type }),
    title: problem.title,
    status: problem.status,
    ...(problem.detail === undefined ? {} : { detail: problem.detail }),
  });
}

/** Answers `res` with `problem` as `application/problem+json`. */
export function writeProblem(res: ServerResponse, problem: Problem, headers: Record<string, string> = {}): void {
  const body = problemBody(problem);
  res.writeHead(problem.status, {
    ...headers,
    "content-type": MEDIA_TYPES.problem,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** `problem` as a WHATWG Response, to be encapsulated (errors after decapsulation, RFC 9458 §5.2). */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(problemBody(problem), {
    status: problem.status,
    headers: { ...headers, "content-type": MEDIA_TYPES.problem },
  });
}

/** The problem in a response body, or undefined when it is not one. */
export function parseProblem(contentType: string, body: string): Problem | undefined {
  if (contentType !== MEDIA_TYPES.problem) return undefined;
  try {
    const value = JSON.parse(body) as Record<string, unknown>;
    return {
      status: typeof value.status === "number" ? value.status : 0,
      type: typeof value.type === "string" ? value.type : undefined,
      title: typeof value.title === "string" ? value.title : "",
      detail: typeof value.detail === "string" ? value.detail : undefined,
    };
  } catch {
    return undefined;
  }
}
