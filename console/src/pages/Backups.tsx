import { PageSection, Title } from "@patternfly/react-core";
import { useState } from "react";
import { Link } from "react-router-dom";
import type { Schemas } from "../api/client";
import { useBackupPages, useClusters, type BackupFilters } from "../api/hooks";
import { NameFilter, SelectFilter, StatusFilter } from "../components/ListFilters";
import { PagedTable } from "../components/PagedTable";
import { StatusLabel } from "../components/StatusLabel";
import { bytes, when } from "../format";

// Every status a backup can have (a Record, so a status the API adds fails the type check).
const STATUSES: Record<Schemas["BackupStatus"], string> = {
  Pending: "Pending",
  InProgress: "In progress",
  Success: "Success",
  PartialSuccess: "Partial success",
  Failed: "Failed",
  Aborted: "Aborted",
  Deleting: "Deleting",
};

/** Every backup the user owns or that was shared with them, by name as the API pages them;
 * the filters are the API's, so they search all of them, not the page shown. */
export function Backups() {
  const [filters, setFilters] = useState<BackupFilters>({ name_prefix: "", status: "", cluster_uid: "" });
  const backups = useBackupPages(filters);
  const clusters = useClusters();
  const clusterName = new Map((clusters.data?.items ?? []).map((c) => [c.uid, c.name]));
  return (
    <PageSection>
      <Title headingLevel="h1">All Backups</Title>
      <PagedTable
        label="All Backups"
        list={backups}
        rowKey={(b) => b.uid}
        empty="No backups yet"
        toolbar={
          <>
            <NameFilter value={filters.name_prefix ?? ""} onChange={(name_prefix) => setFilters({ ...filters, name_prefix })} />
            <StatusFilter statuses={STATUSES} value={filters.status ?? ""} onChange={(status) => setFilters({ ...filters, status })} />
            <SelectFilter
              label="Filter by cluster"
              all="All clusters"
              options={(clusters.data?.items ?? []).map((c) => [c.uid, c.name])}
              value={filters.cluster_uid ?? ""}
              onChange={(cluster_uid) => setFilters({ ...filters, cluster_uid })}
            />
          </>
        }
        columns={[
          { title: "Name", cell: (b) => <Link to={`/backups/${b.uid}`}>{b.name}</Link> },
          { title: "Cluster", cell: (b) => clusterName.get(b.cluster_uid) ?? b.cluster_uid },
          { title: "Status", cell: (b) => <StatusLabel status={b.status} /> },
          { title: "Size", cell: (b) => bytes(b.size_bytes) },
          { title: "Owner", cell: (b) => b.owner },
          { title: "Created", cell: (b) => when(b.created_at) },
        ]}
      />
    </PageSection>
  );
}
