// Loading, error and empty states shared by every page.
import {
  ActionGroup,
  Alert,
  Bullseye,
  Button,
  EmptyState,
  EmptyStateBody,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Spinner,
} from "@patternfly/react-core";
import type { ReactNode } from "react";
import { ApiError, errorMessage } from "../api/errors";

export function Loading({ what }: { what: string }) {
  return (
    <Bullseye>
      <Spinner aria-label={`Loading ${what}`} />
    </Bullseye>
  );
}

/** What the API said when it refused (403, 404) or failed. */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  const status = error instanceof ApiError ? error.status : 0;
  const heading = title ?? (status === 403 ? "Not allowed" : status === 404 ? "Not found" : "Something went wrong");
  return (
    <Alert variant="danger" isInline title={heading}>
      {errorMessage(error)}
    </Alert>
  );
}

/** The end of a create or edit form: the API's refusal when no field shows it, then the
 * submit button ("Save" when editing, else "Create"). */
export function FormEnd({ error, onField, editing, pending }: { error: unknown; onField: boolean; editing: boolean; pending: boolean }) {
  return (
    <>
      {error && !onField ? <ErrorAlert error={error} title={editing ? "Not saved" : "Not created"} /> : null}
      <ActionGroup>
        <Button type="submit" variant="primary" isLoading={pending}>
          {editing ? "Save" : "Create"}
        </Button>
      </ActionGroup>
    </>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <EmptyState titleText={title} headingLevel="h2" variant="sm">
      {children ? <EmptyStateBody>{children}</EmptyStateBody> : null}
    </EmptyState>
  );
}

/** Renders a query: its loading state, its error as the API said it, or the data. */
export function QueryView<T>({
  query,
  what,
  children,
}: {
  query: { isPending: boolean; error: unknown; data: T | undefined };
  what: string;
  children: (data: T) => ReactNode;
}) {
  if (query.error) return <ErrorAlert error={query.error} />;
  if (query.isPending || query.data === undefined) return <Loading what={what} />;
  return <>{children(query.data)}</>;
}

/** The API's message for a form field, under the field; `id` lets the field name it as its
 * description (`aria-describedby`), so a screen reader reads it with the field. */
export function FieldError({ message, id }: { message?: string; id?: string }) {
  if (!message) return null;
  return (
    <FormHelperText>
      <HelperText id={id}>
        <HelperTextItem variant="error">{message}</HelperTextItem>
      </HelperText>
    </FormHelperText>
  );
}
