// One place that turns what the API answered into what a page shows.

/** An answer of the API that was not a success, with its message and the field it names. */
export class ApiError extends Error {
  readonly status: number;
  readonly field: string | null;
  readonly code: string;

  constructor(status: number, message: string, field: string | null = null, code = "") {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
    this.code = code;
  }
}

const FALLBACK: Record<number, string> = {
  401: "Your sign-in has expired: sign in again.",
  403: "You may not do this.",
  404: "Not found, or you may not see it.",
  503: "A service Lifeboat needs is not answering; try again shortly.",
};

/** The API's error body `{"error": {"code", "message", "field"}}`, or a message for the status. */
export function apiError(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)
    ?.error;
  if (error && typeof error.message === "string") {
    const field = typeof error.field === "string" && error.field ? error.field : null;
    return new ApiError(status, error.message, field, typeof error.code === "string" ? error.code : "");
  }
  return new ApiError(status, FALLBACK[status] ?? `The API answered ${status}.`);
}

/** What to show for any error a query or mutation raised. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return `The API did not answer: ${error.message}`;
  return "Something went wrong.";
}

/** The message for `field` when the API named that field, else undefined. */
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError) || error.field === null) return undefined;
  return error.field === field || error.field.startsWith(`${field}.`) ? error.message : undefined;
}
