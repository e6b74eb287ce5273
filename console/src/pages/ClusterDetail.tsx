import {
  Alert,
  Button,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  PageSection,
  Title,
} from "@patternfly/react-core";
import type { ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { offers, ownsOrManages, type Profile } from "../access";
import { api, unwrap } from "../api/client";
import { useApiMutation, useBackupPages, useCluster, useNamespaces, useVirtualMachines } from "../api/hooks";
import { ConfirmDelete } from "../components/ConfirmDelete";
import { ReplaceKubeconfig } from "../components/ReplaceKubeconfig";
import { PagedTable } from "../components/PagedTable";
import { ShareDialog } from "../components/ShareDialog";
import { ErrorAlert, QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";
import { bytes, when } from "../format";
import { ClusterSchedules } from "./ClusterSchedules";

export function Details({ items }: { items: [string, ReactNode][] }) {
  return (
    <DescriptionList isHorizontal isCompact columnModifier={{ default: "2Col" }}>
      {items.map(([term, value]) => (
        <DescriptionListGroup key={term}>
          <DescriptionListTerm>{term}</DescriptionListTerm>
          <DescriptionListDescription>{value}</DescriptionListDescription>
        </DescriptionListGroup>
      ))}
    </DescriptionList>
  );
}

export function ClusterDetail({ profile }: { profile: Profile }) {
  const { uid = "" } = useParams();
  const navigate = useNavigate();
  const cluster = useCluster(uid);
  const namespaces = useNamespaces(uid, cluster.data?.last_synced_at);
  const backups = useBackupPages({ cluster_uid: uid });
  // KubeVirt virtual machines: classic mode only (seeds/001).
  const withVms = offers(profile, "virtual-machines");
  const vms = useVirtualMachines(uid, withVms);
  const sync = useApiMutation(
    () => unwrap(api.POST("/api/v1/clusters/{uid}/sync", { params: { path: { uid } } })),
    [["clusters", uid]],
  );
  const remove = useApiMutation(
    () => unwrap(api.DELETE("/api/v1/clusters/{uid}", { params: { path: { uid } } })),
    [["clusters"]],
  );
  return (
    <PageSection>
      <QueryView query={cluster} what="the cluster">
        {(c) => (
          <>
            <Flex justifyContent={{ default: "justifyContentSpaceBetween" }}>
              <Title headingLevel="h1">{c.name}</Title>
              <Flex>
                <Button variant="secondary" onClick={() => sync.mutate(undefined)} isLoading={sync.isPending}>
                  Sync now
                </Button>
                {ownsOrManages(profile, c.owner_id) ? (
                  <>
                    <ReplaceKubeconfig uid={c.uid} name={c.name} />
                    <ShareDialog kind="clusters" uid={c.uid} name={c.name} />
                    <ConfirmDelete
                      what={`cluster ${c.name}`}
                      onConfirm={() => remove.mutateAsync(undefined).then(() => navigate("/"))}
                    />
                  </>
                ) : null}
              </Flex>
            </Flex>
            {sync.isSuccess ? <Alert variant="info" isInline isPlain title="Sync started" /> : null}
            {sync.error ? <ErrorAlert error={sync.error} title="Not synced" /> : null}
            <Details
              items={[
                ["Status", <StatusLabel key="s" status={c.status} />],
                ["Reason", c.status_reason || "-"],
                ["Kubernetes version", c.kubernetes_version || "-"],
                ["Applications", c.application_count],
                ["Protected data", bytes(c.protected_bytes)],
                ["Server", c.server_url],
                ["Owner", c.owner],
                ["UID", c.uid],
                ["Added", when(c.created_at)],
                ["Last synced", when(c.last_synced_at)],
              ]}
            />
          </>
        )}
      </QueryView>
      <Title headingLevel="h2">Namespaces</Title>
      <QueryView query={namespaces} what="namespaces">
        {(list) => (
          <PagedTable
            label="Namespaces"
            rows={list.items}
            rowKey={(n) => n.name}
            empty="No namespaces seen yet"
            columns={[{ title: "Namespace", cell: (n) => n.name }]}
            actions={(n) => (
              <Link to={`/clusters/${uid}/backup?namespace=${encodeURIComponent(n.name)}`} aria-label={`Back up ${n.name}`}>
                Back up
              </Link>
            )}
          />
        )}
      </QueryView>
      {withVms ? (
        <>
          <Title headingLevel="h2">Virtual machines</Title>
          <QueryView query={vms} what="virtual machines">
            {(list) => (
              <PagedTable
                label="Virtual machines"
                rows={list.items}
                rowKey={(vm) => `${vm.namespace}/${vm.name}`}
                empty="No virtual machines on this cluster"
                columns={[
                  { title: "Name", cell: (vm) => vm.name },
                  { title: "Namespace", cell: (vm) => vm.namespace },
                  { title: "Status", cell: (vm) => <StatusLabel status={vm.status} /> },
                  { title: "Volumes", cell: (vm) => vm.claims.join(", ") || "-" },
                ]}
                actions={(vm) => (
                  <Link
                    to={`/clusters/${uid}/backup?vm=${encodeURIComponent(`${vm.namespace}/${vm.name}`)}`}
                    aria-label={`Back up ${vm.namespace}/${vm.name}`}
                  >
                    Back up
                  </Link>
                )}
              />
            )}
          </QueryView>
        </>
      ) : null}
      <Title headingLevel="h2">Backup schedules</Title>
      <ClusterSchedules profile={profile} cluster={uid} />
      <Title headingLevel="h2">Backups</Title>
      <PagedTable
        label="Backups of this cluster"
        list={backups}
        rowKey={(b) => b.uid}
        empty="No backups of this cluster yet"
        columns={[
          { title: "Name", cell: (b) => <Link to={`/backups/${b.uid}`}>{b.name}</Link> },
          { title: "Status", cell: (b) => <StatusLabel status={b.status} /> },
          { title: "Size", cell: (b) => bytes(b.size_bytes) },
          { title: "Created", cell: (b) => when(b.created_at) },
        ]}
      />
    </PageSection>
  );
}
