// Sign-in: authorization code with PKCE at the provider the API names (GET /api/v1/auth-config).
import { UserManager, WebStorageStateStore } from "oidc-client-ts";

export const CALLBACK_PATH = "/auth/callback";
const SCOPES = "openid profile email groups";

export interface AuthConfig {
  issuer: string;
  console_client_id: string;
}

export async function loadAuthConfig(): Promise<AuthConfig> {
  const response = await fetch("/api/v1/auth-config");
  if (!response.ok) throw new Error(`GET /api/v1/auth-config answered ${response.status}`);
  return (await response.json()) as AuthConfig;
}

/** The console's OIDC client: tokens in the tab's session storage, renewed before expiry. */
export function createUserManager(config: AuthConfig, origin = window.location.origin): UserManager {
  return new UserManager({
    authority: config.issuer,
    client_id: config.console_client_id,
    redirect_uri: origin + CALLBACK_PATH,
    post_logout_redirect_uri: origin + "/",
    response_type: "code",
    scope: SCOPES,
    automaticSilentRenew: true,
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
  });
}

/** Where to go back to after signing in: only a path of this console, never another site. */
export function returnPath(state: unknown): string {
  if (typeof state !== "string" || !state.startsWith("/") || state.startsWith("//")) return "/";
  return state.startsWith(CALLBACK_PATH) ? "/" : state;
}
