// Notifications, under Settings: the user's receivers (a webhook or email, with their last
// delivery and a test message) and subscriptions (which events of which backups and restores go
// to a receiver). Every role keeps its own; a super admin sees and manages everyone's.
import {
  Alert,
  Button,
  Checkbox,
  Flex,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Label,
  LabelGroup,
  Modal,
  ModalBody,
  ModalHeader,
  PageSection,
  TextInput,
  Title,
} from "@patternfly/react-core";
import { useState } from "react";
import { ownsOrManages, type Profile } from "../access";
import { api, unwrap } from "../api/client";
import { fieldError } from "../api/errors";
import { useApiMutation, useReceiverPages, useReceivers, useSchedules, useSubscriptionPages } from "../api/hooks";
import { ConfirmDelete } from "../components/ConfirmDelete";
import { NameFilter } from "../components/ListFilters";
import { PagedTable } from "../components/PagedTable";
import { ErrorAlert, FieldError, FormEnd, Loading } from "../components/states";
import { when } from "../format";
import {
  ALL_MINE,
  EVENT_LABELS,
  EVENTS,
  KIND_LABELS,
  lastDelivery,
  receiverCreate,
  receiverTarget,
  receiverUpdate,
  receiverValues,
  scheduleLabel,
  subscriptionBody,
  toggleEvent,
  type FormValues,
  type Receiver,
  type Subscription,
  type SubscriptionValues,
} from "../notifications";

const RECEIVERS = ["notification-receivers"];
const SUBSCRIPTIONS = ["notification-subscriptions"];

export function Notifications({ profile }: { profile: Profile }) {
  return (
    <PageSection>
      <Title headingLevel="h1">Notifications</Title>
      <Receivers profile={profile} />
      <Subscriptions profile={profile} />
    </PageSection>
  );
}

function SectionHeader({ title, add, onAdd }: { title: string; add: string; onAdd: () => void }) {
  return (
    <Flex justifyContent={{ default: "justifyContentSpaceBetween" }} className="pf-v6-u-mt-lg">
      <Title headingLevel="h2">{title}</Title>
      <Button variant="primary" onClick={onAdd}>
        {add}
      </Button>
    </Flex>
  );
}

/** A text field whose API error (for `field`, the API's name of it) is its description. */
function TextField({
  field,
  label,
  values,
  setValues,
  error,
  secret,
  hint,
}: {
  field: string;
  label: string;
  values: FormValues;
  setValues: (values: FormValues) => void;
  error: unknown;
  secret?: boolean;
  hint?: string;
}) {
  const id = `notify-${field.replace(".", "-")}`;
  const message = fieldError(error, field);
  const described = message ? { "aria-describedby": `${id}-error`, validated: "error" as const } : {};
  return (
    <FormGroup label={label} fieldId={id}>
      <TextInput
        id={id}
        {...described}
        type={secret ? "password" : "text"}
        autoComplete="off"
        value={values[field] ?? ""}
        onChange={(_e, v) => setValues({ ...values, [field]: v })}
      />
      {hint && !message ? (
        <FormHelperText>
          <HelperText>
            <HelperTextItem>{hint}</HelperTextItem>
          </HelperText>
        </FormHelperText>
      ) : null}
      <FieldError id={`${id}-error`} message={message} />
    </FormGroup>
  );
}

/** Whether one of the fields shows the error (else the form shows it above its button). */
const shownOnField = (error: unknown, fields: string[]) => fields.some((f) => fieldError(error, f));

const WEBHOOK_FIELDS = ["webhook.url", "webhook.secret"];
const EMAIL_FIELDS = [
  "email.smtp_host",
  "email.smtp_port",
  "email.starttls",
  "email.username",
  "email.password",
  "email.from_address",
  "email.to_addresses",
];

function ReceiverForm({ stored, onDone }: { stored?: Receiver; onDone: () => void }) {
  const editing = stored !== undefined;
  const [values, setValues] = useState<FormValues>(() => (stored ? receiverValues(stored) : { kind: "webhook" }));
  const run = useApiMutation(
    (): Promise<unknown> =>
      stored
        ? unwrap(api.PATCH("/api/v1/notification-receivers/{uid}", { params: { path: { uid: stored.uid } }, body: receiverUpdate(values) }))
        : unwrap(api.POST("/api/v1/notification-receivers", { body: receiverCreate(values) })),
    [RECEIVERS],
  );
  const email = values.kind === "email";
  const keep = editing ? "Write-only: leave blank to keep the stored one." : undefined;
  const props = { values, setValues, error: run.error };
  return (
    <Form
      onSubmit={(e) => {
        e.preventDefault();
        run.mutate(undefined, { onSuccess: onDone });
      }}
    >
      <TextField field="name" label="Name" {...props} />
      {editing ? null : (
        <FormGroup label="Kind" fieldId="notify-kind">
          <FormSelect id="notify-kind" value={values.kind} onChange={(_e, kind) => setValues({ ...values, kind })}>
            <FormSelectOption value="webhook" label={KIND_LABELS.webhook} />
            <FormSelectOption value="email" label={KIND_LABELS.email} />
          </FormSelect>
        </FormGroup>
      )}
      {email ? (
        <>
          <TextField field="email.smtp_host" label="SMTP host" {...props} />
          <TextField field="email.smtp_port" label="SMTP port" hint="587 when blank" {...props} />
          <FormGroup fieldId="notify-email-starttls">
            <Checkbox
              id="notify-email-starttls"
              label="Upgrade the connection with STARTTLS"
              isChecked={(values["email.starttls"] ?? "true") === "true"}
              onChange={(_e, on) => setValues({ ...values, "email.starttls": String(on) })}
            />
          </FormGroup>
          <TextField field="email.username" label="SMTP user" hint="Blank: no sign-in" {...props} />
          <TextField field="email.password" label="SMTP password" secret hint={keep} {...props} />
          <TextField field="email.from_address" label="From" {...props} />
          <TextField field="email.to_addresses" label="To (comma-separated)" {...props} />
        </>
      ) : (
        <>
          <TextField field="webhook.url" label="URL" {...props} />
          <TextField
            field="webhook.secret"
            label="Signing secret"
            secret
            hint={keep ?? "At least 16 characters: the HMAC key of the X-Lifeboat-Signature header."}
            {...props}
          />
        </>
      )}
      <FormEnd
        error={run.error}
        onField={shownOnField(run.error, ["name", ...(email ? EMAIL_FIELDS : WEBHOOK_FIELDS)])}
        editing={editing}
        pending={run.isPending}
      />
    </Form>
  );
}

/** Sends a test message through the worker and shows what the receiver answered. */
function SendTest({ receiver }: { receiver: Receiver }) {
  const [open, setOpen] = useState(false);
  const test = useApiMutation(
    () => unwrap(api.POST("/api/v1/notification-receivers/{uid}/test", { params: { path: { uid: receiver.uid } } })),
    [RECEIVERS],
  );
  const titleId = `test-title-${receiver.uid}`;
  let body;
  if (test.isPending) body = <Loading what="the test's result" />;
  else if (test.error) body = <ErrorAlert error={test.error} title="Not sent" />;
  else if (test.data?.delivered) body = <Alert variant="success" isInline title="Delivered">{`${receiver.name} took the test message.`}</Alert>;
  else if (test.data) body = <Alert variant="danger" isInline title="Not delivered">{test.data.error}</Alert>;
  return (
    <>
      <Button
        variant="secondary"
        size="sm"
        aria-label={`Send a test to ${receiver.name}`}
        onClick={() => {
          setOpen(true);
          test.mutate();
        }}
      >
        Send test
      </Button>
      <Modal variant="small" isOpen={open} onClose={() => setOpen(false)} aria-labelledby={titleId}>
        <ModalHeader title={`Test message to ${receiver.name}`} labelId={titleId} />
        <ModalBody>{body}</ModalBody>
      </Modal>
    </>
  );
}

function LastDeliveryCell({ receiver }: { receiver: Receiver }) {
  const last = lastDelivery(receiver);
  if (last.state === "never") return <>-</>;
  if (last.state === "delivered") return <>{when(last.at)}</>;
  // When it failed, and why: a long error is cut short, its whole text in the label's tooltip.
  return (
    <Flex direction={{ default: "column" }} spaceItems={{ default: "spaceItemsXs" }}>
      <span>{when(last.at)}</span>
      <Label status="danger" textMaxWidth="32ch">
        {last.error}
      </Label>
    </Flex>
  );
}

function Receivers({ profile }: { profile: Profile }) {
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Receiver | null>(null);
  const [filters, setFilters] = useState({ name_prefix: "" });
  const list = useReceiverPages(filters);
  const remove = useApiMutation(
    (uid: string) => unwrap(api.DELETE("/api/v1/notification-receivers/{uid}", { params: { path: { uid } } })),
    [RECEIVERS],
  );
  return (
    <>
      <SectionHeader title="Receivers" add="Add receiver" onAdd={() => setCreating(true)} />
      <PagedTable
        label="Notification receivers"
        list={list}
        rowKey={(r) => r.uid}
        empty="No receivers yet: add a webhook or an email address to be told when backups and restores end"
        toolbar={
          <NameFilter label="Filter receivers by name" value={filters.name_prefix} onChange={(name_prefix) => setFilters({ name_prefix })} />
        }
        columns={[
          { title: "Name", cell: (r) => r.name },
          { title: "Kind", cell: (r) => KIND_LABELS[r.kind] },
          { title: "Target", cell: (r) => receiverTarget(r) },
          { title: "Last delivery", cell: (r) => <LastDeliveryCell receiver={r} /> },
          { title: "Owner", cell: (r) => r.owner },
        ]}
        actions={(r) =>
          ownsOrManages(profile, r.owner_id) ? (
            <Flex flexWrap={{ default: "nowrap" }}>
              <Button variant="secondary" size="sm" aria-label={`Edit ${r.name}`} onClick={() => setEditing(r)}>
                Edit
              </Button>
              <SendTest receiver={r} />
              <ConfirmDelete what={r.name} onConfirm={() => remove.mutateAsync(r.uid)} />
            </Flex>
          ) : null
        }
      />
      <Modal variant="medium" isOpen={creating} onClose={() => setCreating(false)} aria-labelledby="create-receiver-title">
        <ModalHeader title="Add a receiver" labelId="create-receiver-title" />
        <ModalBody>{creating ? <ReceiverForm onDone={() => setCreating(false)} /> : null}</ModalBody>
      </Modal>
      {editing ? (
        <Modal variant="medium" isOpen onClose={() => setEditing(null)} aria-labelledby="edit-receiver-title">
          <ModalHeader title={`Edit ${editing.name}`} labelId="edit-receiver-title" />
          <ModalBody>
            <ReceiverForm stored={editing} onDone={() => setEditing(null)} />
          </ModalBody>
        </Modal>
      ) : null}
    </>
  );
}

function SubscriptionForm({ stored, owner, onDone }: { stored?: Subscription; owner: string; onDone: () => void }) {
  const editing = stored !== undefined;
  const receivers = useReceivers();
  const schedules = useSchedules();
  // A subscription sends only to its owner's receivers, and covers only its owner's schedules.
  const receiverChoices = (receivers.data?.items ?? []).filter((r) => r.owner_id === owner);
  const scheduleChoices = (schedules.data?.items ?? []).filter((s) => s.owner_id === owner);
  const [values, setValues] = useState<SubscriptionValues>(() => ({
    name: stored?.name ?? "",
    receiver_uid: stored?.receiver_uid ?? "",
    events: stored ? [...stored.events] : ["backup.failed", "backup.partially_failed", "restore.failed"],
    schedule_uid: stored?.schedule_uid ?? "",
  }));
  // Until one is chosen, the first of the owner's receivers (the one the select shows).
  const chosen = { ...values, receiver_uid: values.receiver_uid || receiverChoices[0]?.uid || "" };
  const run = useApiMutation(
    (): Promise<unknown> =>
      stored
        ? unwrap(
            api.PATCH("/api/v1/notification-subscriptions/{uid}", { params: { path: { uid: stored.uid } }, body: subscriptionBody(chosen) }),
          )
        : unwrap(api.POST("/api/v1/notification-subscriptions", { body: subscriptionBody(chosen) })),
    [SUBSCRIPTIONS],
  );
  const message = (field: string) => fieldError(run.error, field);
  const described = (id: string, field: string) =>
    message(field) ? { "aria-describedby": `${id}-error`, validated: "error" as const } : {};
  if (receivers.isPending || schedules.isPending) return <Loading what="your receivers and schedules" />;
  if (receivers.error || schedules.error) return <ErrorAlert error={receivers.error ?? schedules.error} />;
  return (
    <Form
      onSubmit={(e) => {
        e.preventDefault();
        run.mutate(undefined, { onSuccess: onDone });
      }}
    >
      <FormGroup label="Name" fieldId="subscription-name">
        <TextInput
          id="subscription-name"
          {...described("subscription-name", "name")}
          value={values.name}
          onChange={(_e, name) => setValues({ ...values, name })}
        />
        <FieldError id="subscription-name-error" message={message("name")} />
      </FormGroup>
      <FormGroup label="Receiver" fieldId="subscription-receiver">
        <FormSelect
          id="subscription-receiver"
          {...described("subscription-receiver", "receiver_uid")}
          value={chosen.receiver_uid}
          onChange={(_e, receiver_uid) => setValues({ ...values, receiver_uid })}
        >
          {receiverChoices.length === 0 ? <FormSelectOption value="" label="No receiver yet: add one first" isDisabled /> : null}
          {receiverChoices.map((r) => (
            <FormSelectOption key={r.uid} value={r.uid} label={`${r.name} (${KIND_LABELS[r.kind]})`} />
          ))}
        </FormSelect>
        <FieldError id="subscription-receiver-error" message={message("receiver_uid")} />
      </FormGroup>
      <FormGroup label="Events" role="group" isStack fieldId="subscription-events">
        {EVENTS.map((event) => (
          <Checkbox
            key={event}
            id={`subscription-event-${event}`}
            label={EVENT_LABELS[event]}
            isChecked={values.events.includes(event)}
            onChange={(_e, on) => setValues({ ...values, events: toggleEvent(values.events, event, on) })}
          />
        ))}
        <FieldError message={message("events")} />
      </FormGroup>
      <FormGroup label="Backup schedule" fieldId="subscription-schedule">
        <FormSelect
          id="subscription-schedule"
          {...described("subscription-schedule", "schedule_uid")}
          value={values.schedule_uid}
          onChange={(_e, schedule_uid) => setValues({ ...values, schedule_uid })}
        >
          <FormSelectOption value="" label={`None: ${ALL_MINE}`} />
          {scheduleChoices.map((s) => (
            <FormSelectOption key={s.uid} value={s.uid} label={s.name} />
          ))}
        </FormSelect>
        <FieldError id="subscription-schedule-error" message={message("schedule_uid")} />
      </FormGroup>
      <FormEnd
        error={run.error}
        onField={shownOnField(run.error, ["name", "receiver_uid", "events", "schedule_uid"])}
        editing={editing}
        pending={run.isPending}
      />
    </Form>
  );
}

function Subscriptions({ profile }: { profile: Profile }) {
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Subscription | null>(null);
  const [filters, setFilters] = useState({ name_prefix: "" });
  const list = useSubscriptionPages(filters);
  const receivers = useReceivers();
  const schedules = useSchedules();
  const receiverNames = new Map((receivers.data?.items ?? []).map((r) => [r.uid, r.name]));
  const scheduleNames = new Map((schedules.data?.items ?? []).map((s) => [s.uid, s.name]));
  const remove = useApiMutation(
    (uid: string) => unwrap(api.DELETE("/api/v1/notification-subscriptions/{uid}", { params: { path: { uid } } })),
    [SUBSCRIPTIONS],
  );
  return (
    <>
      <SectionHeader title="Subscriptions" add="Add subscription" onAdd={() => setCreating(true)} />
      <PagedTable
        label="Notification subscriptions"
        list={list}
        rowKey={(s) => s.uid}
        empty="No subscriptions yet: subscribe a receiver to the events it should be told of"
        toolbar={
          <NameFilter
            label="Filter subscriptions by name"
            value={filters.name_prefix}
            onChange={(name_prefix) => setFilters({ name_prefix })}
          />
        }
        columns={[
          { title: "Name", cell: (s) => s.name },
          { title: "Receiver", cell: (s) => receiverNames.get(s.receiver_uid) ?? s.receiver_uid },
          {
            title: "Events",
            cell: (s) => (
              <LabelGroup numLabels={EVENTS.length}>
                {s.events.map((event) => (
                  <Label key={event} color={event.endsWith("succeeded") ? "green" : "orange"}>
                    {EVENT_LABELS[event]}
                  </Label>
                ))}
              </LabelGroup>
            ),
          },
          { title: "Schedule", cell: (s) => scheduleLabel(s.schedule_uid, scheduleNames) },
          { title: "Owner", cell: (s) => s.owner },
        ]}
        actions={(s) =>
          ownsOrManages(profile, s.owner_id) ? (
            <Flex flexWrap={{ default: "nowrap" }}>
              <Button variant="secondary" size="sm" aria-label={`Edit ${s.name}`} onClick={() => setEditing(s)}>
                Edit
              </Button>
              <ConfirmDelete what={s.name} onConfirm={() => remove.mutateAsync(s.uid)} />
            </Flex>
          ) : null
        }
      />
      <Modal variant="medium" isOpen={creating} onClose={() => setCreating(false)} aria-labelledby="create-subscription-title">
        <ModalHeader title="Add a subscription" labelId="create-subscription-title" />
        <ModalBody>{creating ? <SubscriptionForm owner={profile.subject} onDone={() => setCreating(false)} /> : null}</ModalBody>
      </Modal>
      {editing ? (
        <Modal variant="medium" isOpen onClose={() => setEditing(null)} aria-labelledby="edit-subscription-title">
          <ModalHeader title={`Edit ${editing.name}`} labelId="edit-subscription-title" />
          <ModalBody>
            <SubscriptionForm stored={editing} owner={editing.owner_id} onDone={() => setEditing(null)} />
          </ModalBody>
        </Modal>
      ) : null}
    </>
  );
}
