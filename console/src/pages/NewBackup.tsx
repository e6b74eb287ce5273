import { ActionGroup, Button, Checkbox, Form, FormGroup, FormSelect, FormSelectOption, PageSection, TextInput, Title } from "@patternfly/react-core";
import { useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { fieldError } from "../api/errors";
import { useApiMutation, useLocations, usePolicies, useRules } from "../api/hooks";
import { ErrorAlert, FieldError } from "../components/states";
import { splitList } from "../format";

/** A backup of a cluster's namespaces to a location, with optional rules: on demand, or as a
 * backup schedule on a schedule policy. */
export function NewBackup() {
  const { uid = "" } = useParams();
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [namespaces, setNamespaces] = useState(search.get("namespace") ?? "");
  const [virtualMachines, setVirtualMachines] = useState(search.get("vm") ?? "");
  const [labelSelector, setLabelSelector] = useState("");
  const [includeTypes, setIncludeTypes] = useState("");
  const [excludeTypes, setExcludeTypes] = useState("");
  const [clusterResources, setClusterResources] = useState(true);
  const [location, setLocation] = useState("");
  const [preRule, setPreRule] = useState("");
  const [postRule, setPostRule] = useState("");
  const [volumes, setVolumes] = useState(true);
  const [policy, setPolicy] = useState("");
  const policies = usePolicies();
  const locations = useLocations();
  const rules = useRules();
  // The first location the user may use, until they choose another.
  const chosenLocation = location || locations.data?.items[0]?.uid || "";
  const backup = () => ({
    cluster_uid: uid,
    location_uid: chosenLocation,
    name: name || null,
    namespaces: splitList(namespaces),
    virtual_machines: splitList(virtualMachines),
    label_selector: labelSelector,
    include_types: splitList(includeTypes),
    exclude_types: splitList(excludeTypes),
    include_cluster_resources: clusterResources,
    pre_rule_uid: preRule || null,
    post_rule_uid: postRule || null,
    volumes,
  });
  const start = useApiMutation(() => unwrap(api.POST("/api/v1/backups", { body: backup() })), [["backups"]]);
  const schedule = useApiMutation(
    () =>
      unwrap(
        api.POST("/api/v1/backup-schedules", {
          body: { name: name || `${splitList(namespaces)[0] ?? "backup"}-schedule`, policy_uid: policy, backup: { ...backup(), name: null } },
        }),
      ),
    [["backup-schedules"]],
  );
  const failed = start.error ?? schedule.error;
  const error = (field: string) => fieldError(failed, field) ?? fieldError(failed, `backup.${field}`);
  const named = ["name", "namespaces", "virtual_machines", "location_uid", "label_selector", "include_types", "exclude_types", "pre_rule_uid", "post_rule_uid", "policy_uid"];
  return (
    <PageSection>
      <Title headingLevel="h1">Back up</Title>
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          if (policy) schedule.mutate(undefined, { onSuccess: () => navigate(`/clusters/${uid}`) });
          else start.mutate(undefined, { onSuccess: (started) => navigate(`/backups/${started.uid}`) });
        }}
      >
        <FormGroup label="Backup name" fieldId="backup-name">
          <TextInput id="backup-name" value={name} onChange={(_e, v) => setName(v)} placeholder="generated when empty" />
          <FieldError message={error("name")} />
        </FormGroup>
        <FormGroup label="Namespaces" fieldId="backup-namespaces">
          <TextInput id="backup-namespaces" value={namespaces} onChange={(_e, v) => setNamespaces(v)} placeholder="comma-separated" />
          <FieldError message={error("namespaces")} />
        </FormGroup>
        {virtualMachines || !namespaces ? (
          <FormGroup label="Virtual machines" fieldId="backup-vms">
            <TextInput id="backup-vms" value={virtualMachines} onChange={(_e, v) => setVirtualMachines(v)} placeholder="namespace/name, ..." />
            <FieldError message={error("virtual_machines")} />
          </FormGroup>
        ) : null}
        <FormGroup label="Label selector" fieldId="backup-labels">
          <TextInput id="backup-labels" value={labelSelector} onChange={(_e, v) => setLabelSelector(v)} placeholder="app=shop" />
          <FieldError message={error("label_selector")} />
        </FormGroup>
        <FormGroup label="Only these resource types" fieldId="backup-include-types">
          <TextInput id="backup-include-types" value={includeTypes} onChange={(_e, v) => setIncludeTypes(v)} placeholder="all when empty; configmaps, deployments.apps, ..." />
          <FieldError message={error("include_types")} />
        </FormGroup>
        <FormGroup label="Leave out these resource types" fieldId="backup-exclude-types">
          <TextInput id="backup-exclude-types" value={excludeTypes} onChange={(_e, v) => setExcludeTypes(v)} placeholder="secrets, ..." />
          <FieldError message={error("exclude_types")} />
        </FormGroup>
        <Checkbox
          id="backup-cluster-resources"
          label="Include cluster resources (the CRDs and storage classes the namespaces use)"
          isChecked={clusterResources}
          onChange={(_e, v) => setClusterResources(v)}
        />
        <FormGroup label="Backup location" fieldId="backup-location" isRequired>
          <FormSelect id="backup-location" value={chosenLocation} onChange={(_e, v) => setLocation(v)}>
            {(locations.data?.items ?? []).map((l) => (
              <FormSelectOption key={l.uid} value={l.uid} label={`${l.name} (${l.bucket}, ${l.owner})`} />
            ))}
          </FormSelect>
          <FieldError message={error("location_uid")} />
          {locations.data?.items.length === 0 ? <FieldError message="No backup location you may use: add one in Settings, or ask for one to be shared." /> : null}
        </FormGroup>
        {(["pre", "post"] as const).map((when) => (
          <FormGroup key={when} label={when === "pre" ? "Pre-exec rule" : "Post-exec rule"} fieldId={`backup-${when}-rule`}>
            <FormSelect
              id={`backup-${when}-rule`}
              value={when === "pre" ? preRule : postRule}
              onChange={(_e, v) => (when === "pre" ? setPreRule(v) : setPostRule(v))}
            >
              <FormSelectOption value="" label="None" />
              {(rules.data?.items ?? []).map((r) => (
                <FormSelectOption key={r.uid} value={r.uid} label={r.name} />
              ))}
            </FormSelect>
            <FieldError message={error(`${when}_rule_uid`)} />
          </FormGroup>
        ))}
        <FormGroup label="When" fieldId="backup-policy">
          <FormSelect id="backup-policy" value={policy} onChange={(_e, v) => setPolicy(v)}>
            <FormSelectOption value="" label="Now (on demand)" />
            {(policies.data?.items ?? []).map((p) => (
              <FormSelectOption key={p.uid} value={p.uid} label={`On schedule policy ${p.name}`} />
            ))}
          </FormSelect>
          <FieldError message={error("policy_uid")} />
        </FormGroup>
        <Checkbox id="backup-volumes" label="Back up volume data" isChecked={volumes} onChange={(_e, v) => setVolumes(v)} />
        {failed && !named.some((f) => error(f)) ? <ErrorAlert error={failed} title="Not started" /> : null}
        <ActionGroup>
          <Button type="submit" variant="primary" isLoading={start.isPending || schedule.isPending} isDisabled={!chosenLocation}>
            {policy ? "Create schedule" : "Start backup"}
          </Button>
          <Button variant="link" onClick={() => navigate(`/clusters/${uid}`)}>
            Cancel
          </Button>
        </ActionGroup>
      </Form>
    </PageSection>
  );
}
