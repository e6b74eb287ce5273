import { Alert, Bullseye, Button, EmptyState, EmptyStateBody, EmptyStateFooter, Spinner } from "@patternfly/react-core";
import { useQueryClient } from "@tanstack/react-query";
import type { User, UserManager } from "oidc-client-ts";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useLocation, useNavigate } from "react-router-dom";
import { configureAuth } from "../api/client";
import { CALLBACK_PATH, returnPath } from "./oidc";

interface Auth {
  user: User;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (auth === null) throw new Error("useAuth outside AuthProvider");
  return auth;
}

/** Renders its children only for a signed-in user; handles the provider's redirect back. */
export function AuthProvider({ manager, children }: { manager: UserManager; children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [problem, setProblem] = useState<string | null>(null);
  const location = useLocation();
  const navigate = useNavigate();
  const queries = useQueryClient();

  const signIn = useCallback(
    // A nonce binds the ID token to this request (some providers, Canaille among them, require it).
    () => manager.signinRedirect({ state: window.location.pathname + window.location.search, nonce: crypto.randomUUID() }),
    [manager],
  );

  useEffect(() => {
    let renewing: Promise<unknown> | null = null;
    configureAuth({
      token: async () => (await manager.getUser())?.access_token ?? null,
      // The API refused the token (expired, or older than the API accepts): renew it with the
      // refresh token and read again; when that fails too, back to the provider's sign-in.
      unauthorized: () => {
        if (renewing) return;
        renewing = manager
          .signinSilent()
          .then(() => queries.invalidateQueries())
          .catch(() => manager.removeUser().then(signIn))
          .finally(() => {
            renewing = null;
          });
      },
    });
    const loaded = (next: User) => setUser(next);
    const unloaded = () => setUser(null);
    const renewFailed = (error: Error) => {
      setProblem(`Your session could not be renewed (${error.message}): sign in again.`);
      setUser(null);
    };
    manager.events.addUserLoaded(loaded);
    manager.events.addUserUnloaded(unloaded);
    manager.events.addSilentRenewError(renewFailed);
    return () => {
      manager.events.removeUserLoaded(loaded);
      manager.events.removeUserUnloaded(unloaded);
      manager.events.removeSilentRenewError(renewFailed);
    };
  }, [manager, signIn, queries]);

  useEffect(() => {
    if (location.pathname === CALLBACK_PATH) {
      manager
        .signinRedirectCallback()
        .then((signedIn) => {
          setUser(signedIn);
          navigate(returnPath(signedIn.state), { replace: true });
        })
        .catch((error: Error) => {
          setProblem(`Signing in failed: ${error.message}`);
          setUser(null);
          navigate("/", { replace: true });
        });
      return;
    }
    manager.getUser().then((stored) => setUser(stored && !stored.expired ? stored : null));
    // Only on the first render: later navigation never re-reads the stored user.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [manager]);

  const auth = useMemo<Auth | null>(
    () =>
      user
        ? {
            user,
            signOut: async () => {
              const idToken = user.id_token;
              await manager.removeUser();
              await manager.signoutRedirect({ id_token_hint: idToken });
            },
          }
        : null,
    [user, manager],
  );

  if (user === undefined || location.pathname === CALLBACK_PATH) {
    return (
      <Bullseye>
        <Spinner aria-label="Signing in" />
      </Bullseye>
    );
  }
  if (auth === null) {
    return (
      <Bullseye>
        <EmptyState titleText="Lifeboat" headingLevel="h1">
          <EmptyStateBody>
            {problem ? <Alert variant="danger" isInline title={problem} /> : "Backup and restore for Kubernetes applications."}
          </EmptyStateBody>
          <EmptyStateFooter>
            <Button variant="primary" onClick={() => void signIn()}>
              Sign in
            </Button>
          </EmptyStateFooter>
        </EmptyState>
      </Bullseye>
    );
  }
  return <AuthContext.Provider value={auth}>{children}</AuthContext.Provider>;
}
