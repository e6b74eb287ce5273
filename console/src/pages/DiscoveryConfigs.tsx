// Cluster discovery (federated mode, super admins): garden clusters whose matching shoots are
// onboarded as clusters. Create, edit (the garden kubeconfig is write-only: blank keeps it),
// run now and delete; deleting keeps the clusters it discovered.
import {
  ActionGroup,
  Button,
  Flex,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Modal, ModalBody, ModalHeader, PageSection, TextInput, Title } from "@patternfly/react-core";
import { useState } from "react";
import { isSuperAdmin, type Profile } from "../access";
import { api, unwrap, type Schemas } from "../api/client";
import { fieldError } from "../api/errors";
import { useApiMutation, usePagedList } from "../api/hooks";
import { ConfirmDelete } from "../components/ConfirmDelete";
import { KubeconfigField } from "../components/KubeconfigField";
import { NameFilter } from "../components/ListFilters";
import { PagedTable } from "../components/PagedTable";
import { ErrorAlert, FieldError } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";
import { splitList, when } from "../format";

type Config = Schemas["DiscoveryConfigRead"];
const KEY = "discovery-configs";

function ConfigForm({ config, onDone }: { config?: Config; onDone: () => void }) {
  const [name, setName] = useState(config?.name ?? "");
  const [kubeconfig, setKubeconfig] = useState("");
  const [selector, setSelector] = useState(config?.label_selector ?? "");
  const [namespaces, setNamespaces] = useState(config?.namespaces.join(", ") ?? "");
  const [every, setEvery] = useState(String(config?.interval_seconds ?? 600));
  const save = useApiMutation((): Promise<unknown> => {
    const fields = { label_selector: selector, namespaces: splitList(namespaces), interval_seconds: Number(every) };
    return config
      ? unwrap(
          api.PATCH("/api/v1/discovery-configs/{uid}", {
            params: { path: { uid: config.uid } },
            body: { ...fields, ...(kubeconfig ? { garden_kubeconfig: kubeconfig } : {}) },
          }),
        )
      : unwrap(api.POST("/api/v1/discovery-configs", { body: { name, garden_kubeconfig: kubeconfig, ...fields } }));
  }, [[KEY]]);
  const errors = {
    name: fieldError(save.error, "name"),
    garden_kubeconfig: fieldError(save.error, "garden_kubeconfig"),
    label_selector: fieldError(save.error, "label_selector"),
    namespaces: fieldError(save.error, "namespaces"),
    interval_seconds: fieldError(save.error, "interval_seconds"),
  };
  return (
    <Form
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate(undefined, { onSuccess: onDone });
      }}
    >
      {config ? null : (
        <FormGroup label="Name" fieldId="discovery-name" isRequired>
          <TextInput id="discovery-name" value={name} onChange={(_e, v) => setName(v)} />
          <FieldError message={errors.name} />
        </FormGroup>
      )}
      <FormGroup label="Garden kubeconfig" fieldId="discovery-kubeconfig" isRequired={!config}>
        <KubeconfigField
          id="discovery-kubeconfig"
          label="Garden kubeconfig"
          value={kubeconfig}
          onChange={setKubeconfig}
          invalid={Boolean(errors.garden_kubeconfig)}
        />
        <FieldError message={errors.garden_kubeconfig} />
        {config && !errors.garden_kubeconfig ? (
          <FormHelperText>
            <HelperText>
              <HelperTextItem>Write-only: leave blank to keep the stored one.</HelperTextItem>
            </HelperText>
          </FormHelperText>
        ) : null}
      </FormGroup>
      <FormGroup label="Shoot label selector" fieldId="discovery-selector">
        <TextInput id="discovery-selector" value={selector} placeholder="env=prod" onChange={(_e, v) => setSelector(v)} />
        <FieldError message={errors.label_selector} />
      </FormGroup>
      <FormGroup label="Project namespaces" fieldId="discovery-namespaces">
        <TextInput id="discovery-namespaces" value={namespaces} placeholder="garden-a, garden-b (empty: all)" onChange={(_e, v) => setNamespaces(v)} />
        <FieldError message={errors.namespaces} />
      </FormGroup>
      <FormGroup label="Every (seconds)" fieldId="discovery-interval">
        <TextInput id="discovery-interval" value={every} onChange={(_e, v) => setEvery(v)} />
        <FieldError message={errors.interval_seconds} />
      </FormGroup>
      {save.error && !Object.values(errors).some(Boolean) ? <ErrorAlert error={save.error} title="Not saved" /> : null}
      <ActionGroup>
        <Button type="submit" variant="primary" isLoading={save.isPending}>
          {config ? "Save" : "Create"}
        </Button>
      </ActionGroup>
    </Form>
  );
}

export function DiscoveryConfigs({ profile }: { profile: Profile }) {
  // Only super admins manage discovery (no role permission grants it); the API says so to others.
  const manages = isSuperAdmin(profile);
  const [filters, setFilters] = useState({ name_prefix: "" });
  const [form, setForm] = useState<{ config?: Config } | null>(null);
  const list = usePagedList(KEY, filters, (query) => unwrap(api.GET("/api/v1/discovery-configs", { params: { query } })), 10_000);
  const run = useApiMutation(
    (uid: string) => unwrap(api.POST("/api/v1/discovery-configs/{uid}/run", { params: { path: { uid } } })),
    [[KEY]],
  );
  const remove = useApiMutation(
    (uid: string) => unwrap(api.DELETE("/api/v1/discovery-configs/{uid}", { params: { path: { uid } } })),
    [[KEY], ["clusters"]],
  );
  return (
    <PageSection>
      <Flex justifyContent={{ default: "justifyContentSpaceBetween" }}>
        <Title headingLevel="h1">Cluster Discovery</Title>
        {manages ? (
          <Button variant="primary" onClick={() => setForm({})}>
            Add
          </Button>
        ) : null}
      </Flex>
      {run.error ? <ErrorAlert error={run.error} title="Not run" /> : null}
      <PagedTable
        label="Discovery configurations"
        list={list}
        rowKey={(c) => c.uid}
        empty="No discovery configurations yet"
        toolbar={<NameFilter value={filters.name_prefix} onChange={(name_prefix) => setFilters({ name_prefix })} />}
        columns={[
          { title: "Name", cell: (c) => c.name },
          { title: "Garden", cell: (c) => c.garden_server_url },
          { title: "Selector", cell: (c) => c.label_selector || "all shoots" },
          { title: "Status", cell: (c) => <StatusLabel status={c.status} /> },
          { title: "Reason", cell: (c) => c.status_reason || "-" },
          { title: "Clusters", cell: (c) => c.discovered_clusters ?? 0 },
          { title: "Last run", cell: (c) => when(c.last_run_at) },
        ]}
        actions={(c) => (
          <Flex flexWrap={{ default: "nowrap" }}>
            {manages ? (
              <>
                <Button variant="secondary" size="sm" aria-label={`Edit ${c.name}`} onClick={() => setForm({ config: c })}>
                  Edit
                </Button>
                <Button variant="secondary" size="sm" onClick={() => run.mutate(c.uid)}>
                  Run now
                </Button>
              </>
            ) : null}
            {manages ? (
              <ConfirmDelete what={`${c.name} (the clusters it discovered stay)`} onConfirm={() => remove.mutateAsync(c.uid)} />
            ) : null}
          </Flex>
        )}
      />
      {form ? (
        <Modal variant="medium" isOpen onClose={() => setForm(null)} aria-labelledby="discovery-title">
          <ModalHeader title={form.config ? `Edit ${form.config.name}` : "Add a discovery configuration"} labelId="discovery-title" />
          <ModalBody>
            <ConfigForm config={form.config} onDone={() => setForm(null)} />
          </ModalBody>
        </Modal>
      ) : null}
    </PageSection>
  );
}
