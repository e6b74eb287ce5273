// Add clusters by EKS auto-discovery: an aws cloud account's clusters in a region, listed by
// the API (the worker asks AWS), chosen, onboarded.
import { ActionGroup, Button, Checkbox, Form, FormGroup, FormSelect, FormSelectOption, TextInput } from "@patternfly/react-core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { fieldError } from "../api/errors";
import { useApiMutation, useCloudAccounts } from "../api/hooks";
import { PagedTable } from "../components/PagedTable";
import { ErrorAlert, FieldError, QueryView } from "../components/states";

export function EksDiscovery() {
  const navigate = useNavigate();
  const accounts = useCloudAccounts();
  const aws = (accounts.data?.items ?? []).filter((a) => a.provider === "aws");
  const [account, setAccount] = useState("");
  const [region, setRegion] = useState("");
  const [listed, setListed] = useState<{ account: string; region: string } | null>(null);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const chosenAccount = account || aws[0]?.uid || "";
  const clusters = useQuery({
    queryKey: ["eks-clusters", listed?.account, listed?.region],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/cloud-accounts/{uid}/eks-clusters", {
          params: { path: { uid: listed!.account }, query: { region: listed!.region } },
        }),
      ),
    enabled: listed !== null,
  });
  const onboard = useApiMutation(
    () => unwrap(api.POST("/api/v1/clusters/eks", { body: { cloud_account_uid: chosenAccount, region, names: [...chosen] } })),
    [["clusters"]],
  );
  const regionError = fieldError(clusters.error, "region") ?? fieldError(onboard.error, "region");
  return (
    <Form
      onSubmit={(e) => {
        e.preventDefault();
        setChosen(new Set());
        setListed({ account: chosenAccount, region });
      }}
    >
      <FormGroup label="AWS cloud account" fieldId="eks-account" isRequired>
        <FormSelect id="eks-account" value={chosenAccount} onChange={(_e, v) => setAccount(v)}>
          {aws.map((a) => (
            <FormSelectOption key={a.uid} value={a.uid} label={`${a.name} (${a.owner})`} />
          ))}
        </FormSelect>
        {accounts.data && aws.length === 0 ? <FieldError message="No aws cloud account you may use: add one in Settings." /> : null}
      </FormGroup>
      <FormGroup label="Region" fieldId="eks-region" isRequired>
        <TextInput id="eks-region" value={region} onChange={(_e, v) => setRegion(v)} placeholder="eu-central-1" />
        <FieldError message={regionError} />
      </FormGroup>
      <ActionGroup>
        <Button type="submit" variant="secondary" isDisabled={!chosenAccount || !region} isLoading={clusters.isFetching}>
          Discover clusters
        </Button>
      </ActionGroup>
      {listed ? (
        <QueryView query={clusters} what="EKS clusters">
          {(list) => (
            <PagedTable
              label="EKS clusters"
              rows={list.items}
              rowKey={(c) => c.arn}
              empty="No EKS clusters in this region"
              columns={[
                {
                  title: "Cluster",
                  cell: (c) => (
                    <Checkbox
                      id={`eks-${c.name}`}
                      label={c.name}
                      isDisabled={c.onboarded}
                      isChecked={chosen.has(c.name)}
                      onChange={(_e, on) => {
                        const next = new Set(chosen);
                        if (on) next.add(c.name);
                        else next.delete(c.name);
                        setChosen(next);
                      }}
                    />
                  ),
                },
                { title: "Version", cell: (c) => c.version },
                { title: "Status", cell: (c) => c.status },
                { title: "Onboarded", cell: (c) => (c.onboarded ? "yes" : "no") },
              ]}
            />
          )}
        </QueryView>
      ) : null}
      {onboard.error && !regionError ? <ErrorAlert error={onboard.error} title="Not onboarded" /> : null}
      {listed ? (
        <ActionGroup>
          <Button
            variant="primary"
            isDisabled={chosen.size === 0}
            isLoading={onboard.isPending}
            onClick={() => onboard.mutate(undefined, { onSuccess: () => navigate("/") })}
          >
            Onboard {chosen.size || ""} cluster{chosen.size === 1 ? "" : "s"}
          </Button>
        </ActionGroup>
      ) : null}
    </Form>
  );
}
