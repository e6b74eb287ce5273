import { ActionGroup, Button, Form, FormGroup, FormSelect, FormSelectOption, PageSection, TextInput, Title } from "@patternfly/react-core";
import { useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { fieldError } from "../api/errors";
import { useApiMutation, useBackup, useClusters } from "../api/hooks";
import { ErrorAlert, FieldError } from "../components/states";
import { parseMapping, splitList } from "../format";
import { RESOURCE_COLUMNS, ResultsTable, VOLUME_COLUMNS } from "./results";

/** A restore: target, namespace and storage-class mapping, keep or replace; previewed first. */
export function NewRestore() {
  const { uid = "" } = useParams();
  const navigate = useNavigate();
  const backup = useBackup(uid);
  const clusters = useClusters();
  const [cluster, setCluster] = useState("");
  const [namespaceMapping, setNamespaceMapping] = useState("");
  const [classMapping, setClassMapping] = useState("");
  const [replacePolicy, setReplacePolicy] = useState<"keep" | "replace">("keep");
  const [includeNamespaces, setIncludeNamespaces] = useState("");
  const [includeTypes, setIncludeTypes] = useState("");
  const [excludeTypes, setExcludeTypes] = useState("");
  const [mappingError, setMappingError] = useState<string | undefined>();
  const [preview, setPreview] = useState<Schemas["RestoreRead"] | null>(null);

  const body = (): Schemas["RestoreCreate"] => ({
    backup_uid: uid,
    cluster_uid: cluster || null,
    namespace_mapping: parseMapping(namespaceMapping),
    storage_class_mapping: parseMapping(classMapping),
    replace_policy: replacePolicy,
    include_namespaces: splitList(includeNamespaces),
    include_types: splitList(includeTypes),
    exclude_types: splitList(excludeTypes),
  });
  const previewRun = useApiMutation(() => unwrap(api.POST("/api/v1/restores/preview", { body: body() })), []);
  const restore = useApiMutation(() => unwrap(api.POST("/api/v1/restores", { body: body() })), [["restores"]]);
  const failed = previewRun.error ?? restore.error;
  const error = (field: string) => fieldError(failed, field);
  const run = (what: "preview" | "restore") => {
    try {
      parseMapping(namespaceMapping);
      parseMapping(classMapping);
      setMappingError(undefined);
    } catch (bad) {
      setMappingError((bad as Error).message);
      return;
    }
    if (what === "preview") previewRun.mutate(undefined, { onSuccess: setPreview });
    else restore.mutate(undefined, { onSuccess: (r) => navigate(`/restores/${r.uid}`) });
  };
  const changed = () => setPreview(null);
  return (
    <PageSection>
      <Title headingLevel="h1">Restore {backup.data?.name ?? ""}</Title>
      <Form onSubmit={(e) => e.preventDefault()}>
        <FormGroup label="Target cluster" fieldId="restore-cluster">
          <FormSelect
            id="restore-cluster"
            value={cluster}
            onChange={(_e, v) => {
              setCluster(v);
              changed();
            }}
          >
            <FormSelectOption value="" label="The backup's cluster" />
            {(clusters.data?.items ?? []).map((c) => (
              <FormSelectOption key={c.uid} value={c.uid} label={`${c.name} (${c.owner})`} />
            ))}
          </FormSelect>
          <FieldError message={error("cluster_uid")} />
        </FormGroup>
        <FormGroup label="Namespace mapping" fieldId="restore-namespaces">
          <TextInput
            id="restore-namespaces"
            value={namespaceMapping}
            onChange={(_e, v) => {
              setNamespaceMapping(v);
              changed();
            }}
            placeholder="source=target, ..."
          />
          <FieldError message={mappingError ?? error("namespace_mapping")} />
        </FormGroup>
        <FormGroup label="Storage class mapping" fieldId="restore-classes">
          <TextInput
            id="restore-classes"
            value={classMapping}
            onChange={(_e, v) => {
              setClassMapping(v);
              changed();
            }}
            placeholder="source=target, ..."
          />
          <FieldError message={error("storage_class_mapping")} />
        </FormGroup>
        <FormGroup label="Existing resources" fieldId="restore-policy">
          <FormSelect
            id="restore-policy"
            value={replacePolicy}
            onChange={(_e, v) => {
              setReplacePolicy(v as "keep" | "replace");
              changed();
            }}
          >
            <FormSelectOption value="keep" label="Keep (skip what exists)" />
            <FormSelectOption value="replace" label="Replace" />
          </FormSelect>
        </FormGroup>
        {(
          [
            ["restore-include-namespaces", "Only these namespaces", includeNamespaces, setIncludeNamespaces, "include_namespaces"],
            ["restore-include-types", "Only these resource types", includeTypes, setIncludeTypes, "include_types"],
            ["restore-exclude-types", "Leave out these resource types", excludeTypes, setExcludeTypes, "exclude_types"],
          ] as const
        ).map(([id, label, value, set, field]) => (
          <FormGroup key={id} label={label} fieldId={id}>
            <TextInput
              id={id}
              value={value}
              onChange={(_e, v) => {
                set(v);
                changed();
              }}
              placeholder="all when empty; comma-separated"
            />
            <FieldError message={error(field)} />
          </FormGroup>
        ))}
        {failed && !["cluster_uid", "include_namespaces", "include_types", "exclude_types", "namespace_mapping", "storage_class_mapping"].some((f) => error(f)) ? (
          <ErrorAlert error={failed} title="Refused" />
        ) : null}
        <ActionGroup>
          <Button variant="secondary" onClick={() => run("preview")} isLoading={previewRun.isPending}>
            Preview
          </Button>
          <Button variant="primary" onClick={() => run("restore")} isDisabled={preview === null} isLoading={restore.isPending}>
            Restore
          </Button>
        </ActionGroup>
      </Form>
      {preview ? (
        <>
          <Title headingLevel="h2">Preview</Title>
          <ResultsTable label="Preview of resources" rows={preview.resources} columns={RESOURCE_COLUMNS} />
          <ResultsTable label="Preview of volumes" rows={preview.volumes} columns={VOLUME_COLUMNS} />
        </>
      ) : null}
    </PageSection>
  );
}
