import {
  ActionGroup,
  Button,
  Form,
  FormGroup,
  PageSection,
  Tab,
  Tabs,
  TabTitleText,
  TextInput,
  Title,
} from "@patternfly/react-core";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { offers, type Profile } from "../access";
import { api, unwrap } from "../api/client";
import { fieldError } from "../api/errors";
import { useApiMutation } from "../api/hooks";
import { KubeconfigField } from "../components/KubeconfigField";
import { ErrorAlert, FieldError } from "../components/states";
import { EksDiscovery } from "./EksDiscovery";

export function AddCluster({ profile }: { profile: Profile }) {
  const [name, setName] = useState("");
  const [kubeconfig, setKubeconfig] = useState("");
  const navigate = useNavigate();
  const add = useApiMutation(
    () => unwrap(api.POST("/api/v1/clusters", { body: { name, kubeconfig } })),
    [["clusters"]],
  );
  const nameError = fieldError(add.error, "name");
  const kubeconfigError = fieldError(add.error, "kubeconfig");
  const submit = () => add.mutate(undefined, { onSuccess: (cluster) => navigate(`/clusters/${cluster.uid}`) });
  return (
    <PageSection>
      <Title headingLevel="h1">Add cluster</Title>
      <Tabs defaultActiveKey="kubeconfig" aria-label="How to add the cluster">
        <Tab eventKey="kubeconfig" title={<TabTitleText>By kubeconfig</TabTitleText>}>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              submit();
            }}
          >
            <FormGroup label="Cluster name" fieldId="cluster-name" isRequired>
              <TextInput id="cluster-name" value={name} onChange={(_e, v) => setName(v)} validated={nameError ? "error" : "default"} isRequired />
              <FieldError message={nameError} />
            </FormGroup>
            <FormGroup label="Kubeconfig" fieldId="kubeconfig" isRequired>
              <KubeconfigField id="kubeconfig" label="Kubeconfig" value={kubeconfig} onChange={setKubeconfig} invalid={Boolean(kubeconfigError)} />
              <FieldError message={kubeconfigError} />
            </FormGroup>
            {add.error && !nameError && !kubeconfigError ? <ErrorAlert error={add.error} title="Not added" /> : null}
            <ActionGroup>
              <Button type="submit" variant="primary" isLoading={add.isPending}>
                Add cluster
              </Button>
              <Button variant="link" onClick={() => navigate("/")}>
                Cancel
              </Button>
            </ActionGroup>
          </Form>
        </Tab>
        {offers(profile, "cloud-accounts") ? (
          <Tab eventKey="eks" title={<TabTitleText>EKS auto-discovery</TabTitleText>}>
            <EksDiscovery />
          </Tab>
        ) : null}
      </Tabs>
    </PageSection>
  );
}
