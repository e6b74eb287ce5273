import { Flex, PageSection, Title } from "@patternfly/react-core";
import { useState } from "react";
import { Link } from "react-router-dom";
import { SUPER_ADMIN, type Profile } from "../access";
import type { Schemas } from "../api/client";
import { useClusterPages, type ClusterFilters } from "../api/hooks";
import { LinkButton } from "../components/LinkButton";
import { NameFilter, StatusFilter } from "../components/ListFilters";
import { PagedTable } from "../components/PagedTable";
import { StatusLabel } from "../components/StatusLabel";
import { bytes, when } from "../format";

type ClusterRead = Schemas["ClusterRead"];

// Every status a cluster can have (a Record, so a status the API adds fails the type check).
const STATUSES: Record<Schemas["ClusterStatus"], string> = {
  Pending: "Pending",
  Online: "Online",
  Offline: "Offline",
  Failed: "Failed",
  DeletePending: "Being removed",
};

export function Home({ profile }: { profile: Profile }) {
  const [filters, setFilters] = useState<ClusterFilters>({ name_prefix: "", status: "" });
  const clusters = useClusterPages(filters);
  const everyone = profile.roles.includes(SUPER_ADMIN);
  return (
    <PageSection>
      <Flex justifyContent={{ default: "justifyContentSpaceBetween" }}>
        <Title headingLevel="h1">Clusters</Title>
        <Flex>
          <Link to="/shared-clusters">All Shared Clusters</Link>
          <Link to="/backups">All Backups</Link>
          <LinkButton to="/clusters/new">Add Cluster</LinkButton>
        </Flex>
      </Flex>
      <PagedTable
            label="Clusters"
            list={clusters}
            rowKey={(c) => c.uid}
            empty="No clusters yet: add one"
            toolbar={
              <>
                <NameFilter value={filters.name_prefix ?? ""} onChange={(name_prefix) => setFilters({ ...filters, name_prefix })} />
                <StatusFilter statuses={STATUSES} value={filters.status ?? ""} onChange={(status) => setFilters({ ...filters, status })} />
              </>
            }
            columns={[
              { title: "Name", cell: (c) => <Link to={`/clusters/${c.uid}`}>{c.name}</Link> },
              { title: "Status", cell: (c) => <StatusLabel status={c.status} /> },
              { title: "Applications", cell: (c) => c.application_count },
              { title: "Protected data", cell: (c) => bytes(c.protected_bytes) },
              { title: "Kubernetes version", cell: (c) => c.kubernetes_version || "-" },
              // Same-name clusters of different owners are told apart by owner, server and date.
              ...(everyone
                ? [
                    { title: "Owner", cell: (c: ClusterRead) => c.owner },
                    { title: "Server", cell: (c: ClusterRead) => c.server_url },
                    { title: "Added", cell: (c: ClusterRead) => when(c.created_at) },
                  ]
                : []),
            ]}
          />
    </PageSection>
  );
}
