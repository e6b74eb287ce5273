// Settings: schedule policies, cloud accounts, backup locations and rules, each a table with its
// OWNER, a create form where the role allows it, and delete or share where ownership does.
import { ActionGroup, Button, Flex, Form, FormGroup, FormSelect, FormSelectOption, Modal, ModalBody, ModalHeader, PageSection, TextInput, Title } from "@patternfly/react-core";
import { useState } from "react";
import { useParams } from "react-router-dom";
import { can, mayChange, ownsOrManages, type Profile, type RbacKind } from "../access";
import { api, unwrap } from "../api/client";
import { fieldError } from "../api/errors";
import { useApiMutation, useCloudAccounts, useLocations, usePolicies, useRules } from "../api/hooks";
import { ConfirmDelete } from "../components/ConfirmDelete";
import { PagedTable } from "../components/PagedTable";
import { ShareDialog } from "../components/ShareDialog";
import { Empty, ErrorAlert, FieldError, QueryView } from "../components/states";

type SettingsKind = "schedule-policies" | "cloud-accounts" | "backup-locations" | "rules";
interface Row {
  uid: string;
  name: string;
  owner: string;
  owner_id: string;
  summary: string;
}
interface Field {
  name: string;
  label: string;
  secret?: boolean;
  options?: [string, string][];
}

const TITLES: Record<SettingsKind, string> = {
  "schedule-policies": "Schedule Policies",
  "cloud-accounts": "Cloud Accounts",
  "backup-locations": "Backup Locations",
  rules: "Rules",
};

function useRows(kind: SettingsKind) {
  const policies = usePolicies();
  const accounts = useCloudAccounts();
  const locations = useLocations();
  const rules = useRules();
  const pick = { "schedule-policies": policies, "cloud-accounts": accounts, "backup-locations": locations, rules }[kind];
  const rows: Row[] | undefined =
    kind === "schedule-policies"
      ? policies.data?.items.map((p) => ({ ...p, summary: `${p.schedule.type}, keep ${p.retention?.keep_last ?? "-"}` }))
      : kind === "cloud-accounts"
        ? accounts.data?.items.map((a) => ({ ...a, summary: `${a.provider} ${a.identity}` }))
        : kind === "backup-locations"
          ? locations.data?.items.map((l) => ({ ...l, summary: `${l.endpoint}/${l.bucket}${l.prefix ? "/" + l.prefix : ""}` }))
          : rules.data?.items.map((r) => ({ ...r, summary: `${r.rules.length} rule(s)` }));
  return { query: { isPending: pick.isPending, error: pick.error, data: rows }, accounts: accounts.data?.items ?? [] };
}

function fieldsOf(kind: SettingsKind, accounts: { uid: string; name: string }[], classic: boolean): Field[] {
  switch (kind) {
    case "schedule-policies":
      return [
        { name: "name", label: "Name" },
        { name: "every_minutes", label: "Every (minutes)" },
        { name: "keep_last", label: "Keep last" },
      ];
    case "cloud-accounts":
      return [
        { name: "name", label: "Name" },
        { name: "provider", label: "Provider", options: [["s3-compatible", "S3 compatible"], ["aws", "AWS"]] },
        { name: "access_key_id", label: "Access key id" },
        { name: "secret_access_key", label: "Secret access key", secret: true },
      ];
    case "backup-locations":
      return [
        { name: "name", label: "Name" },
        { name: "endpoint", label: "Endpoint" },
        { name: "bucket", label: "Bucket" },
        { name: "region", label: "Region" },
        { name: "prefix", label: "Prefix" },
        ...(classic
          ? [{ name: "cloud_account_uid", label: "Cloud account", options: accounts.map((a): [string, string] => [a.uid, a.name]) }]
          : [
              { name: "access_key_id", label: "Access key id" },
              { name: "secret_access_key", label: "Secret access key", secret: true },
            ]),
      ];
    case "rules":
      return [
        { name: "name", label: "Name" },
        { name: "pod_selector", label: "Pod selector (key=value)" },
        { name: "command", label: "Command" },
      ];
  }
}

function create(kind: SettingsKind, v: Record<string, string>): Promise<unknown> {
  const keys = { access_key_id: v.access_key_id ?? "", secret_access_key: v.secret_access_key ?? "" };
  switch (kind) {
    case "schedule-policies":
      return unwrap(
        api.POST("/api/v1/schedule-policies", {
          body: {
            name: v.name ?? "",
            schedule: { type: "interval", every_minutes: Number(v.every_minutes) },
            retention: { keep_last: Number(v.keep_last || 7), keep_last_successful: true },
          },
        }),
      );
    case "cloud-accounts":
      return unwrap(
        api.POST("/api/v1/cloud-accounts", {
          body: { name: v.name ?? "", provider: (v.provider || "s3-compatible") as "s3-compatible", credentials: keys },
        }),
      );
    case "backup-locations":
      return unwrap(
        api.POST("/api/v1/backup-locations", {
          body: {
            name: v.name ?? "",
            endpoint: v.endpoint ?? "",
            bucket: v.bucket ?? "",
            region: v.region ?? "",
            prefix: v.prefix ?? "",
            ...(v.access_key_id !== undefined ? { credentials: keys } : { cloud_account_uid: v.cloud_account_uid || null }),
          },
        }),
      );
    case "rules": {
      const [key, value] = (v.pod_selector ?? "").split("=");
      return unwrap(
        api.POST("/api/v1/rules", {
          body: { name: v.name ?? "", rules: [{ pod_selector: key ? { [key]: value ?? "" } : {}, actions: [{ command: v.command ?? "" }] }] },
        }),
      );
    }
  }
}

function CreateForm({ kind, fields, onDone }: { kind: SettingsKind; fields: Field[]; onDone: () => void }) {
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.filter((f) => f.options?.length).map((f) => [f.name, f.options![0]![0]])),
  );
  const add = useApiMutation(() => create(kind, values), [[kind]]);
  const shownError = (name: string) => fieldError(add.error, name) ?? fieldError(add.error, `credentials.${name}`);
  return (
    <Form
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate(undefined, { onSuccess: onDone });
      }}
    >
      {fields.map((field) => (
        <FormGroup key={field.name} label={field.label} fieldId={`create-${field.name}`}>
          {field.options ? (
            <FormSelect id={`create-${field.name}`} value={values[field.name] ?? ""} onChange={(_e, v) => setValues({ ...values, [field.name]: v })}>
              {field.options.map(([value, label]) => (
                <FormSelectOption key={value} value={value} label={label} />
              ))}
            </FormSelect>
          ) : (
            <TextInput
              id={`create-${field.name}`}
              type={field.secret ? "password" : "text"}
              autoComplete="off"
              value={values[field.name] ?? ""}
              onChange={(_e, v) => setValues({ ...values, [field.name]: v })}
            />
          )}
          <FieldError message={shownError(field.name)} />
        </FormGroup>
      ))}
      {add.error && !fields.some((f) => shownError(f.name)) ? <ErrorAlert error={add.error} title="Not created" /> : null}
      <ActionGroup>
        <Button type="submit" variant="primary" isLoading={add.isPending}>
          Create
        </Button>
      </ActionGroup>
    </Form>
  );
}

export function SettingsPage({ profile }: { profile: Profile }) {
  const { kind: param = "" } = useParams();
  const kind = param as SettingsKind;
  const [creating, setCreating] = useState(false);
  const known = kind in TITLES;
  const { query, accounts } = useRows(known ? kind : "rules");
  const remove = useApiMutation(
    (uid: string): Promise<unknown> => {
      const path = { params: { path: { uid } } };
      return kind === "schedule-policies"
        ? unwrap(api.DELETE("/api/v1/schedule-policies/{uid}", path))
        : kind === "cloud-accounts"
          ? unwrap(api.DELETE("/api/v1/cloud-accounts/{uid}", path))
          : kind === "backup-locations"
            ? unwrap(api.DELETE("/api/v1/backup-locations/{uid}", path))
            : unwrap(api.DELETE("/api/v1/rules/{uid}", path));
    },
    [[kind]],
  );
  if (!known) return <Empty title="Page not found" />;
  const rbac: RbacKind = kind;
  return (
    <PageSection>
      <Flex justifyContent={{ default: "justifyContentSpaceBetween" }}>
        <Title headingLevel="h1">{TITLES[kind]}</Title>
        {can(profile, rbac, "create") ? (
          <Button variant="primary" onClick={() => setCreating(true)}>
            Add
          </Button>
        ) : null}
      </Flex>
      <QueryView query={query} what={TITLES[kind]}>
        {(rows) => (
          <PagedTable
            label={TITLES[kind]}
            rows={rows}
            rowKey={(r) => r.uid}
            empty={`No ${TITLES[kind].toLowerCase()} yet`}
            columns={[
              { title: "Name", cell: (r) => r.name },
              { title: "Details", cell: (r) => r.summary },
              { title: "Owner", cell: (r) => r.owner },
            ]}
            actions={(r) => (
              <Flex>
                {ownsOrManages(profile, r.owner_id) ? <ShareDialog kind={rbac} uid={r.uid} name={r.name} /> : null}
                {mayChange(profile, rbac, "delete", r.owner_id) ? (
                  <ConfirmDelete what={r.name} onConfirm={() => remove.mutateAsync(r.uid)} />
                ) : null}
              </Flex>
            )}
          />
        )}
      </QueryView>
      <Modal variant="medium" isOpen={creating} onClose={() => setCreating(false)} aria-labelledby="create-title">
        <ModalHeader title={`Add to ${TITLES[kind]}`} labelId="create-title" />
        <ModalBody>
          <CreateForm kind={kind} fields={fieldsOf(kind, accounts, profile.features.includes("cloud-accounts"))} onDone={() => setCreating(false)} />
        </ModalBody>
      </Modal>
    </PageSection>
  );
}
