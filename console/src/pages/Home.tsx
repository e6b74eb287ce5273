import { Flex, PageSection, Title } from "@patternfly/react-core";
import { Link } from "react-router-dom";
import { SUPER_ADMIN, type Profile } from "../access";
import { useClusters } from "../api/hooks";
import { LinkButton } from "../components/LinkButton";
import { PagedTable } from "../components/PagedTable";
import { QueryView } from "../components/states";
import { StatusLabel } from "../components/StatusLabel";
import { bytes, when } from "../format";

export function Home({ profile }: { profile: Profile }) {
  const clusters = useClusters();
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
      <QueryView query={clusters} what="clusters">
        {(list) => (
          <PagedTable
            label="Clusters"
            rows={list.items}
            rowKey={(c) => c.uid}
            empty="No clusters yet: add one"
            columns={[
              { title: "Name", cell: (c) => <Link to={`/clusters/${c.uid}`}>{c.name}</Link> },
              { title: "Status", cell: (c) => <StatusLabel status={c.status} /> },
              { title: "Applications", cell: (c) => c.application_count },
              { title: "Protected data", cell: (c) => bytes(c.protected_bytes) },
              { title: "Kubernetes version", cell: (c) => c.kubernetes_version || "-" },
              // Same-name clusters of different owners are told apart by owner, server and date.
              ...(everyone
                ? [
                    { title: "Owner", cell: (c: (typeof list.items)[number]) => c.owner },
                    { title: "Server", cell: (c: (typeof list.items)[number]) => c.server_url },
                    { title: "Added", cell: (c: (typeof list.items)[number]) => when(c.created_at) },
                  ]
                : []),
            ]}
          />
        )}
      </QueryView>
    </PageSection>
  );
}
