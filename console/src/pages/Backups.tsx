import { PageSection, Title } from "@patternfly/react-core";
import { Link } from "react-router-dom";
import { useBackups, useClusters } from "../api/hooks";
import { PagedTable } from "../components/PagedTable";
import { QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";
import { bytes, when } from "../format";

/** Every backup the user owns or that was shared with them, newest first. */
export function Backups() {
  const backups = useBackups();
  const clusters = useClusters();
  const clusterName = new Map((clusters.data?.items ?? []).map((c) => [c.uid, c.name]));
  return (
    <PageSection>
      <Title headingLevel="h1">All Backups</Title>
      <QueryView query={backups} what="backups">
        {(list) => (
          <PagedTable
            label="All Backups"
            rows={[...list.items].sort((a, b) => b.created_at.localeCompare(a.created_at))}
            rowKey={(b) => b.uid}
            empty="No backups yet"
            columns={[
              { title: "Name", cell: (b) => <Link to={`/backups/${b.uid}`}>{b.name}</Link> },
              { title: "Cluster", cell: (b) => clusterName.get(b.cluster_uid) ?? b.cluster_uid },
              { title: "Status", cell: (b) => <StatusLabel status={b.status} /> },
              { title: "Size", cell: (b) => bytes(b.size_bytes) },
              { title: "Owner", cell: (b) => b.owner },
              { title: "Created", cell: (b) => when(b.created_at) },
            ]}
          />
        )}
      </QueryView>
    </PageSection>
  );
}
