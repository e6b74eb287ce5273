import "@patternfly/react-core/dist/styles/base.css";
import "./console.css";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router-dom";
import { ApiError } from "./api/errors";
import { App } from "./App";
import { AuthProvider } from "./auth/AuthProvider";
import { createUserManager, loadAuthConfig } from "./auth/oidc";

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      // A refusal (4xx) is the API's answer, not a hiccup: show it rather than retry.
      retry: (failures, error) => !(error instanceof ApiError && error.status < 500) && failures < 2,
      staleTime: 5_000,
    },
  },
});

const root = createRoot(document.getElementById("root")!);

loadAuthConfig()
  .then((config) => {
    root.render(
      <StrictMode>
        <BrowserRouter>
          <QueryClientProvider client={queries}>
            <AuthProvider manager={createUserManager(config)}>
              <App />
            </AuthProvider>
          </QueryClientProvider>
        </BrowserRouter>
      </StrictMode>,
    );
  })
  .catch((error: Error) => {
    root.render(<p role="alert">Lifeboat's API did not answer: {error.message}</p>);
  });
