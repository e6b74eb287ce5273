// Settings: schedule policies, cloud accounts, backup locations and rules, each a table with its
// OWNER, paged and searched by name through the API, create and edit forms where the role and
// ownership allow them, and delete or share where ownership does.
import {
  Button,
  Flex,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalHeader,
  PageSection,
  TextInput,
  Title,
} from "@patternfly/react-core";
import { useState } from "react";
import { useParams } from "react-router-dom";
import { can, mayChange, offers, ownsOrManages, type Profile, type RbacKind } from "../access";
import { api, unwrap, type Schemas } from "../api/client";
import { ApiError, fieldError } from "../api/errors";
import { useApiMutation, useCloudAccounts, usePagedList, type ListPage } from "../api/hooks";
import { ConfirmDelete } from "../components/ConfirmDelete";
import { NameFilter } from "../components/ListFilters";
import { PagedTable } from "../components/PagedTable";
import { ShareDialog } from "../components/ShareDialog";
import { Empty, FieldError, FormEnd } from "../components/states";
import { parseMapping } from "../format";

type SettingsKind = "schedule-policies" | "cloud-accounts" | "backup-locations" | "rules";
// What the API stored, by kind: an edit form starts from it and sends back what it does not show.
type Stored =
  | { kind: "schedule-policies"; item: Schemas["SchedulePolicyRead"] }
  | { kind: "cloud-accounts"; item: Schemas["CloudAccountRead"] }
  | { kind: "backup-locations"; item: Schemas["BackupLocationRead"] }
  | { kind: "rules"; item: Schemas["RuleRead"] };
interface Row {
  uid: string;
  name: string;
  owner: string;
  owner_id: string;
  summary: string;
  stored: Stored;
}
interface Field {
  name: string;
  label: string;
  /** Write-only: never shown; on an edit, left blank keeps the stored one. */
  secret?: boolean;
  options?: [string, string][];
  /** The API's names for what the field sets, when not its own name (its errors show here). */
  apiFields?: string[];
}
type Values = Record<string, string>;

const TITLES: Record<SettingsKind, string> = {
  "schedule-policies": "Schedule Policies",
  "cloud-accounts": "Cloud Accounts",
  "backup-locations": "Backup Locations",
  rules: "Rules",
};

function rowOf(stored: Stored): Row {
  const { uid, name, owner, owner_id } = stored.item;
  const base = { uid, name, owner, owner_id, stored };
  switch (stored.kind) {
    case "schedule-policies":
      return { ...base, summary: `${stored.item.schedule.type}, keep ${stored.item.retention?.keep_last ?? "-"}` };
    case "cloud-accounts":
      return { ...base, summary: `${stored.item.provider} ${stored.item.identity}` };
    case "backup-locations": {
      const l = stored.item;
      return { ...base, summary: `${l.endpoint}/${l.bucket}${l.prefix ? "/" + l.prefix : ""}` };
    }
    case "rules":
      return { ...base, summary: `${stored.item.rules.length} rule(s)` };
  }
}

type Query = { limit: number; after?: string; name_prefix?: string };

async function loadRows(kind: SettingsKind, query: Query): Promise<ListPage<Row>> {
  const params = { params: { query } };
  const page = <T,>(list: ListPage<T>, stored: (item: T) => Stored) => ({ next: list.next, items: list.items.map((i) => rowOf(stored(i))) });
  switch (kind) {
    case "schedule-policies":
      return page(await unwrap(api.GET("/api/v1/schedule-policies", params)), (item) => ({ kind, item }));
    case "cloud-accounts":
      return page(await unwrap(api.GET("/api/v1/cloud-accounts", params)), (item) => ({ kind, item }));
    case "backup-locations":
      return page(await unwrap(api.GET("/api/v1/backup-locations", params)), (item) => ({ kind, item }));
    case "rules":
      return page(await unwrap(api.GET("/api/v1/rules", params)), (item) => ({ kind, item }));
  }
}

// The write-only credentials of each kind of storage: the public part, then the secret.
const KEY_FIELDS: Record<string, [Field, Field]> = {
  s3: [
    { name: "access_key_id", label: "Access key id", apiFields: ["credentials.access_key_id"] },
    { name: "secret_access_key", label: "Secret access key", secret: true, apiFields: ["credentials"] },
  ],
  azure: [
    { name: "account_name", label: "Storage account", apiFields: ["credentials.account_name"] },
    { name: "account_key", label: "Account key", secret: true, apiFields: ["credentials"] },
  ],
  gcp: [
    { name: "project_id", label: "Project id", apiFields: ["credentials.project_id"] },
    { name: "service_account_key", label: "Service account key (JSON)", secret: true, apiFields: ["credentials"] },
  ],
};
const keyFieldsOf = (provider: string) => KEY_FIELDS[{ aws: "s3", "s3-compatible": "s3" }[provider] ?? provider] ?? KEY_FIELDS.s3!;

/** A rule the form can show whole: one pod selector and one command (others: name only). */
const simpleRule = (rule: Schemas["RuleRead"]) => rule.rules.length === 1 && rule.rules[0]!.actions.length === 1;

function fieldsOf(kind: SettingsKind, accounts: { uid: string; name: string }[], classic: boolean, stored?: Stored): Field[] {
  const name: Field = { name: "name", label: "Name" };
  switch (kind) {
    case "schedule-policies":
      // A daily, weekly or monthly calendar (set through the API or CLI) is kept as it is.
      return [
        name,
        ...(stored?.kind === kind && stored.item.schedule.type !== "interval"
          ? []
          : [{ name: "every_minutes", label: "Every (minutes)", apiFields: ["schedule"] }]),
        { name: "keep_last", label: "Keep last", apiFields: ["retention"] },
      ];
    case "cloud-accounts":
      return stored?.kind === kind
        ? [name, ...keyFieldsOf(stored.item.provider)]
        : [name, { name: "provider", label: "Provider", options: [["s3-compatible", "S3 compatible"], ["aws", "AWS"]] }, ...KEY_FIELDS.s3!];
    case "backup-locations": {
      const ownKeys = stored?.kind === kind && stored.item.access_key_id !== null;
      const accountOptions = accounts.map((a): [string, string] => [a.uid, a.name]);
      return [
        name,
        { name: "endpoint", label: "Endpoint" },
        { name: "bucket", label: "Bucket" },
        { name: "region", label: "Region" },
        { name: "prefix", label: "Prefix" },
        ...(classic
          ? [
              {
                name: "cloud_account_uid",
                label: "Cloud account",
                options: ownKeys ? [["", "None: the location's own keys"] as [string, string], ...accountOptions] : accountOptions,
              },
            ]
          : []),
        ...(!classic || ownKeys ? keyFieldsOf(stored?.kind === kind ? stored.item.provider : "s3") : []),
      ];
    }
    case "rules":
      return stored?.kind === kind && !simpleRule(stored.item)
        ? [name]
        : [
            name,
            { name: "pod_selector", label: "Pod selector (key=value)", apiFields: ["rules.0.pod_selector"] },
            { name: "command", label: "Command", apiFields: ["rules.0.actions"] },
          ];
  }
}

/** What an edit form starts with: the stored values, never a secret. */
function initialValues(stored: Stored): Values {
  const item = stored.item;
  switch (stored.kind) {
    case "schedule-policies": {
      const { schedule, retention } = stored.item;
      return {
        name: item.name,
        every_minutes: schedule.type === "interval" ? String(schedule.every_minutes) : "",
        keep_last: String(retention.keep_last ?? ""),
      };
    }
    case "cloud-accounts":
      return { name: item.name, [keyFieldsOf(stored.item.provider)[0].name]: stored.item.identity };
    case "backup-locations": {
      const l = stored.item;
      return {
        name: l.name,
        endpoint: l.endpoint,
        bucket: l.bucket,
        region: l.region,
        prefix: l.prefix,
        cloud_account_uid: l.cloud_account_uid ?? "",
        [keyFieldsOf(l.provider)[0].name]: l.access_key_id ?? "",
      };
    }
    case "rules": {
      const first = stored.item.rules[0];
      return {
        name: item.name,
        pod_selector: Object.entries(first?.pod_selector ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
        command: first?.actions[0]?.command ?? "",
      };
    }
  }
}

/** The pod selector as typed, `app=shop,tier=web`; a lone key selects pods with it set to "". */
function selectorOf(text: string): Record<string, string> {
  try {
    return parseMapping(text.split(",").map((pair) => (pair.includes("=") || !pair.trim() ? pair : `${pair}=`)).join(","));
  } catch (error) {
    throw new ApiError(422, `pod selector: ${(error as Error).message}, as in app=shop`, "rules.0.pod_selector");
  }
}

/** The credentials to send: none when the secret is left blank (the stored ones stay); a new
 * public part needs its secret too, as the API replaces credentials whole. */
function keysOf(provider: string, v: Values, initial: Values = {}): Record<string, string> | undefined {
  const [id, secret] = keyFieldsOf(provider);
  const idValue = v[id.name] ?? "";
  const secretValue = v[secret.name] ?? "";
  if (!secretValue) {
    if (idValue !== (initial[id.name] ?? "")) {
      throw new ApiError(422, `give the ${secret.label.toLowerCase()} too: credentials are replaced as a whole`, `credentials.${secret.name}`);
    }
    return undefined;
  }
  return { [id.name]: idValue, [secret.name]: secretValue };
}

function create(kind: SettingsKind, v: Values, classic: boolean): Promise<unknown> {
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
          body: {
            name: v.name ?? "",
            provider: (v.provider || "s3-compatible") as "s3-compatible",
            credentials: { access_key_id: v.access_key_id ?? "", secret_access_key: v.secret_access_key ?? "" },
          },
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
            // Classic mode: a cloud account's keys; federated: the location's own.
            ...(classic
              ? { cloud_account_uid: v.cloud_account_uid || null }
              : { credentials: { access_key_id: v.access_key_id ?? "", secret_access_key: v.secret_access_key ?? "" } }),
          },
        }),
      );
    case "rules":
      return unwrap(
        api.POST("/api/v1/rules", {
          body: { name: v.name ?? "", rules: [{ pod_selector: selectorOf(v.pod_selector ?? ""), actions: [{ command: v.command ?? "" }] }] },
        }),
      );
  }
}

/** The PUT of the object: the form's values over what is stored, so nothing it does not show
 * (labels, another calendar, retention's other counts, a rule's other items) is lost. */
function update(stored: Stored, v: Values, initial: Values): Promise<unknown> {
  const path = { path: { uid: stored.item.uid } };
  const name = v.name ?? "";
  switch (stored.kind) {
    case "schedule-policies": {
      const { labels, schedule, retention } = stored.item;
      return unwrap(
        api.PUT("/api/v1/schedule-policies/{uid}", {
          params: path,
          body: {
            name,
            labels,
            schedule: schedule.type === "interval" ? { ...schedule, every_minutes: Number(v.every_minutes) } : schedule,
            retention: { ...retention, keep_last: Number(v.keep_last) },
          },
        }),
      );
    }
    case "cloud-accounts": {
      const credentials = keysOf(stored.item.provider, v, initial);
      return unwrap(
        api.PUT("/api/v1/cloud-accounts/{uid}", {
          params: path,
          body: { name, labels: stored.item.labels, ...(credentials ? { credentials: credentials as Schemas["S3Keys"] } : {}) },
        }),
      );
    }
    case "backup-locations": {
      const l = stored.item;
      const credentials = v.cloud_account_uid ? undefined : keysOf(l.provider, v, initial);
      return unwrap(
        api.PUT("/api/v1/backup-locations/{uid}", {
          params: path,
          body: {
            name,
            labels: l.labels,
            endpoint: v.endpoint ?? "",
            bucket: v.bucket ?? "",
            region: v.region ?? "",
            prefix: v.prefix ?? "",
            cloud_account_uid: v.cloud_account_uid || null,
            ...(credentials ? { credentials: credentials as Schemas["S3Keys"] } : {}),
          },
        }),
      );
    }
    case "rules": {
      const { labels, rules } = stored.item;
      const [first, ...others] = rules;
      const edited =
        first && simpleRule(stored.item)
          ? [{ ...first, pod_selector: selectorOf(v.pod_selector ?? ""), actions: [{ ...first.actions[0]!, command: v.command ?? "" }] }, ...others]
          : rules;
      return unwrap(api.PUT("/api/v1/rules/{uid}", { params: path, body: { name, labels, rules: edited } }));
    }
  }
}

/** The form field that shows an API error: the one naming the error's field most closely. */
function fieldShowing(error: unknown, fields: Field[]): string | undefined {
  let best: { field: string; length: number } | undefined;
  for (const field of fields) {
    for (const apiField of [field.name, `credentials.${field.name}`, ...(field.apiFields ?? [])]) {
      if (fieldError(error, apiField) && (!best || apiField.length > best.length)) best = { field: field.name, length: apiField.length };
    }
  }
  return best?.field;
}

function SettingsField({
  field,
  value,
  onChange,
  editing,
  error,
}: {
  field: Field;
  value: string;
  onChange: (value: string) => void;
  editing: boolean;
  error: string | undefined;
}) {
  const id = `settings-${field.name}`;
  // The API's error is the field's description, so a screen reader reads it with the field.
  const described = error ? { "aria-describedby": `${id}-error`, validated: "error" as const } : {};
  return (
    <FormGroup label={field.label} fieldId={id}>
      {field.options ? (
        <FormSelect id={id} {...described} value={value} onChange={(_e, v) => onChange(v)}>
          {field.options.map(([option, label]) => (
            <FormSelectOption key={option} value={option} label={label} />
          ))}
        </FormSelect>
      ) : (
        <TextInput id={id} {...described} type={field.secret ? "password" : "text"} autoComplete="off" value={value} onChange={(_e, v) => onChange(v)} />
      )}
      {field.secret && editing && !error ? (
        <FormHelperText>
          <HelperText>
            <HelperTextItem>Write-only: leave blank to keep the stored one.</HelperTextItem>
          </HelperText>
        </FormHelperText>
      ) : null}
      <FieldError id={`${id}-error`} message={error} />
    </FormGroup>
  );
}

function SettingsForm({
  fields,
  initial,
  save,
  invalidates,
  editing = false,
  onDone,
}: {
  fields: Field[];
  initial: Values;
  save: (values: Values) => Promise<unknown>;
  invalidates: string[][];
  editing?: boolean;
  onDone: () => void;
}) {
  const [values, setValues] = useState<Values>(() => ({
    ...Object.fromEntries(fields.filter((f) => f.options?.length).map((f) => [f.name, f.options![0]![0]])),
    ...initial,
  }));
  const run = useApiMutation(() => save(values), invalidates);
  const showing = fieldShowing(run.error, fields);
  return (
    <Form
      onSubmit={(e) => {
        e.preventDefault();
        run.mutate(undefined, { onSuccess: onDone });
      }}
    >
      {fields.map((field) => (
        <SettingsField
          key={field.name}
          field={field}
          value={values[field.name] ?? ""}
          onChange={(value) => setValues({ ...values, [field.name]: value })}
          editing={editing}
          error={showing === field.name && run.error instanceof ApiError ? run.error.message : undefined}
        />
      ))}
      <FormEnd error={run.error} onField={Boolean(showing)} editing={editing} pending={run.isPending} />
    </Form>
  );
}

export function SettingsPage({ profile }: { profile: Profile }) {
  const { kind = "" } = useParams();
  if (!(kind in TITLES)) return <Empty title="Page not found" />;
  // Each kind's page starts afresh: its own filter, first page, no form open.
  return <SettingsList key={kind} kind={kind as SettingsKind} profile={profile} />;
}

function SettingsList({ kind, profile }: { kind: SettingsKind; profile: Profile }) {
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Row | null>(null);
  const [filters, setFilters] = useState({ name_prefix: "" });
  const list = usePagedList(kind, filters, (query) => loadRows(kind, query));
  const classic = offers(profile, "cloud-accounts");
  const accounts = useCloudAccounts(classic && kind === "backup-locations");
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
  const rbac: RbacKind = kind;
  const choices = accounts.data?.items ?? [];
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
      <PagedTable
        label={TITLES[kind]}
        list={list}
        rowKey={(r) => r.uid}
        empty={`No ${TITLES[kind].toLowerCase()} yet`}
        toolbar={<NameFilter value={filters.name_prefix} onChange={(name_prefix) => setFilters({ name_prefix })} />}
        columns={[
          { title: "Name", cell: (r) => r.name },
          { title: "Details", cell: (r) => r.summary },
          { title: "Owner", cell: (r) => r.owner },
        ]}
        actions={(r) => (
          <Flex flexWrap={{ default: "nowrap" }}>
            {mayChange(profile, rbac, "edit", r.owner_id) ? (
              <Button variant="secondary" size="sm" aria-label={`Edit ${r.name}`} onClick={() => setEditing(r)}>
                Edit
              </Button>
            ) : null}
            {ownsOrManages(profile, r.owner_id) ? <ShareDialog kind={rbac} uid={r.uid} name={r.name} /> : null}
            {mayChange(profile, rbac, "delete", r.owner_id) ? <ConfirmDelete what={r.name} onConfirm={() => remove.mutateAsync(r.uid)} /> : null}
          </Flex>
        )}
      />
      <Modal variant="medium" isOpen={creating} onClose={() => setCreating(false)} aria-labelledby="create-title">
        <ModalHeader title={`Add to ${TITLES[kind]}`} labelId="create-title" />
        <ModalBody>
          <SettingsForm
            fields={fieldsOf(kind, choices, classic)}
            initial={{}}
            save={(values) => create(kind, values, classic)}
            invalidates={[[kind]]}
            onDone={() => setCreating(false)}
          />
        </ModalBody>
      </Modal>
      {editing ? (
        <Modal variant="medium" isOpen onClose={() => setEditing(null)} aria-labelledby="edit-title">
          <ModalHeader title={`Edit ${editing.name}`} labelId="edit-title" />
          <ModalBody>
            <SettingsForm
              fields={fieldsOf(kind, choices, classic, editing.stored)}
              initial={initialValues(editing.stored)}
              save={(values) => update(editing.stored, values, initialValues(editing.stored))}
              invalidates={[[kind]]}
              editing
              onDone={() => setEditing(null)}
            />
          </ModalBody>
        </Modal>
      ) : null}
    </PageSection>
  );
}
