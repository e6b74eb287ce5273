import { PageSection, Title } from "@patternfly/react-core";
import { Link } from "react-router-dom";
import { useSharedClusters } from "../api/hooks";
import { PagedTable } from "../components/PagedTable";
import { QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";

export function SharedClusters() {
  const shared = useSharedClusters();
  return (
    <PageSection>
      <Title headingLevel="h1">All Shared Clusters</Title>
      <QueryView query={shared} what="shared clusters">
        {(list) => (
          <PagedTable
            label="All Shared Clusters"
            rows={list.items}
            rowKey={(c) => c.uid}
            empty="No cluster is shared"
            columns={[
              { title: "Cluster", cell: (c) => <Link to={`/clusters/${c.uid}`}>{c.name}</Link> },
              { title: "Status", cell: (c) => <StatusLabel status={c.status} /> },
              {
                title: "Shared with",
                cell: (c) => c.shared_with.map((s) => `${s.subject_kind} ${s.subject_name || s.subject || "everyone"} (${s.access})`).join(", "),
              },
            ]}
          />
        )}
      </QueryView>
    </PageSection>
  );
}
