// The typed API client (generated from the served OpenAPI): every call goes through here.
import createClient, { type Middleware } from "openapi-fetch";
import { apiError } from "./errors";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

interface AuthHooks {
  token: () => Promise<string | null>;
  unauthorized: () => void;
}

let hooks: AuthHooks = { token: async () => null, unauthorized: () => undefined };

/** Where the bearer token comes from, and what a 401 does (sign in again). */
export function configureAuth(next: AuthHooks): void {
  hooks = next;
}

const bearer: Middleware = {
  async onRequest({ request }) {
    const token = await hooks.token();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  async onResponse({ response }) {
    if (response.status === 401) hooks.unauthorized();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(bearer);

/** The data of a successful answer; an `ApiError` with the API's message otherwise. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw apiError(response.status, error);
  return data as T;
}
